"""From the readings of a video's sampled frames to timed spans of screen text.

A unit of text (a line, or a block of lines) seen in consecutive readings with the same text
(`mediarag.screen.text.same_text`: fuzzy, but with equal digits) is one `Span`: it starts when the
first reading's frame came on screen and ends when the screen first changed after the last
reading that showed it. Among units with equal text the nearest box continues a span (a file
name in a sidebar and in a tab stay two spans). `build_spans` is a pure function of the
readings, so thresholds can be tried again without running the OCR.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..schema import SCREEN, Segment
from .layout import Box, BoxFilter, layout
from .ocr import OcrBox
from .text import normalize, same_text, similarity

_LETTER = re.compile(r"[^\W\d_]")


@dataclass
class Reading:
    """What the OCR returned for one sampled frame (boxes in OCR-image pixels), and since when
    the frame was on screen (``start``) and when the previous one went (``prev_end``)."""

    time: float
    start: float
    prev_end: float | None
    scale: float
    boxes: list[OcrBox]
    forced: bool = False


@dataclass
class Span:
    """Text on screen from ``start`` to ``end`` (seconds); ``box`` in video pixels, where it
    first appeared; ``order``: its place in the reading order of that first reading."""

    text: str
    start: float
    end: float
    box: Box
    score: float
    reads: int = 1
    order: int = 0


@dataclass
class _Unit:
    text: str
    box: Box
    score: float
    order: int


def _distance(a: Box, b: Box) -> float:
    """Distance between two boxes' centres, in pixels."""
    return (((a[0] + a[2]) - (b[0] + b[2])) ** 2 + ((a[1] + a[3]) - (b[1] + b[3])) ** 2) ** 0.5 / 2


@dataclass
class SpanTracker:
    """Follows units of text across consecutive readings (see the module docstring)."""

    min_similarity: float = 0.9
    active: list[Span] = field(default_factory=list)
    done: list[Span] = field(default_factory=list)
    _keys: dict[int, str] = field(default_factory=dict, init=False, repr=False)
    _last_box: dict[int, Box] = field(default_factory=dict, init=False, repr=False)

    def update(self, units: Sequence[_Unit], start: float, prev_end: float | None) -> None:
        """Take one reading's units: ``start`` since when they are on screen, ``prev_end``
        when the previous reading's screen went."""
        if prev_end is not None:
            for span in self.active:
                span.end = prev_end
        pairs = []
        for ui, unit in enumerate(units):
            key = normalize(unit.text)
            for si, span in enumerate(self.active):
                other = self._keys[id(span)]
                if same_text(key, other, self.min_similarity):
                    pairs.append((-similarity(key, other), _distance(unit.box, self._last_box[id(span)]), ui, si))
        pairs.sort()  # the most similar first; among equals, the nearest
        used_units: set[int] = set()
        used_spans: set[int] = set()
        still: list[Span] = []
        for _, _, ui, si in pairs:
            if ui in used_units or si in used_spans:
                continue
            used_units.add(ui)
            used_spans.add(si)
            span, unit = self.active[si], units[ui]
            span.reads += 1
            self._last_box[id(span)] = unit.box
            if unit.score > span.score:  # keep the most confident reading's text
                span.text, span.score = unit.text, unit.score
                self._keys[id(span)] = normalize(unit.text)
            still.append(span)
        self.done += [span for si, span in enumerate(self.active) if si not in used_spans]
        for ui, unit in enumerate(units):
            if ui not in used_units:
                span = Span(unit.text, start, start, unit.box, unit.score, 1, unit.order)
                self._keys[id(span)] = normalize(unit.text)
                self._last_box[id(span)] = unit.box
                still.append(span)
        self.active = still

    def finish(self, end: float) -> list[Span]:
        """Every span, the open ones ending at ``end``, by start then reading order."""
        for span in self.active:
            span.end = max(span.end, end)
        self.done += self.active
        self.active = []
        return sorted(self.done, key=lambda s: (s.start, s.order))


@dataclass
class SpanSet:
    """A video's spans of lines (for timing and evaluation) and of blocks (the passages)."""

    lines: list[Span]
    blocks: list[Span]


def build_spans(
    readings: Sequence[Reading], duration: float, box_filter: BoxFilter | None = None, min_similarity: float = 0.9
) -> SpanSet:
    """Line and block spans of a video's readings (in time order); spans still on screen at the
    end last until ``duration``."""
    box_filter = box_filter or BoxFilter()
    lines, blocks = SpanTracker(min_similarity), SpanTracker(min_similarity)
    for reading in readings:
        ordered = layout([b for b in reading.boxes if box_filter.keep(b)], reading.scale)
        line_units, block_units = [], []
        for bi, block in enumerate(ordered):
            block_units.append(_Unit(block.text, block.box, block.score, bi))
            for line in block.lines:
                line_units.append(_Unit(line.text, line.box, line.score, len(line_units)))
        lines.update(line_units, reading.start, reading.prev_end)
        blocks.update(block_units, reading.start, reading.prev_end)
    return SpanSet(lines.finish(duration), blocks.finish(duration))


def searchable(text: str, min_chars: int = 3) -> bool:
    """Whether screen text is worth a passage: ``min_chars`` characters and a letter (a time
    code or a frame counter is not)."""
    return len(text) >= min_chars and bool(_LETTER.search(text))


def screen_segments(spans: Sequence[Span], min_chars: int = 3) -> list[Segment]:
    """Block spans as evidence segments of kind ``screen`` (lines joined with spaces), in order
    of appearance and reading order."""
    out = []
    for span in spans:
        text = " ".join(unicodedata.normalize("NFKC", span.text).split())
        if searchable(text, min_chars) and span.end >= span.start:
            out.append(Segment(start=max(0.0, span.start), end=max(0.0, span.end), text=text, kind=SCREEN))
    return out
