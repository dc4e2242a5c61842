"""From the OCR's lines of one frame to blocks of text in reading order.

1. `BoxFilter` drops lines too small (box height in the OCR image's pixels) or too unsure (the
   recogniser's confidence) to trust, and lines without a letter or digit. Measured: confidence
   0.80 keeps every true line of the test videos and no false one on cartoon or test-pattern
   video (from 0.7 up); boxes are the font's height plus 5-9 px, and no true box was under 17 px.
2. `group_lines` joins boxes on one visual line that are close together (menu items), left to
   right; `fix_digit_confusions` undoes the recogniser's o/0 and l/1 swaps inside numbers.
3. `group_blocks` stacks lines set closely, with similar heights, into blocks (a title and the
   body under it stay apart).
4. `reading_order` orders blocks by recursive XY-cut: horizontal bands top to bottom, then
   columns left to right (a menu bar, then a sidebar, then the pane beside it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .ocr import OcrBox

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

_WORD_CHARACTER = re.compile(r"\w")


@dataclass(frozen=True)
class BoxFilter:
    """Keeps a line that is tall enough, confident enough and has a letter or digit."""

    min_height_px: float = 10.0
    min_score: float = 0.80

    def keep(self, box: OcrBox) -> bool:
        return box.height >= self.min_height_px and box.score >= self.min_score and bool(_WORD_CHARACTER.search(box.text))


_DIGIT_LOOKALIKES = str.maketrans({"o": "0", "O": "0", "l": "1", "I": "1"})
_NUMBER = re.compile(r"[\d.,:/-]*\d[\d.,:/-]*(st|nd|rd|th|s)?")
_TOKEN = re.compile(r"[\w.,:/-]+")


def fix_digit_confusions(text: str) -> str:
    """Undo o/O -> 0 and l/I -> 1 inside numbers: a token with a digit that becomes a number
    (digits with , . : / - and maybe an ordinal suffix) once swapped is swapped ("3o8" -> "308",
    "l90l" -> "1901", "1Oth" -> "10th"); "CO2" and "MP3" stay as they are."""

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        if not any(ch.isdigit() for ch in token):
            return token
        word = token.rstrip(".,:")  # punctuation after the number
        swapped = word.translate(_DIGIT_LOOKALIKES)
        return swapped + token[len(word) :] if _NUMBER.fullmatch(swapped) else token

    return _TOKEN.sub(fix, text)


@dataclass
class Line:
    """Boxes of one visual line joined: text, box (video pixels), confidence, height."""

    text: str
    box: Box
    score: float
    height: float


@dataclass
class Block:
    """Lines stacked closely, top to bottom."""

    lines: list[Line]

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def box(self) -> Box:
        return union(line.box for line in self.lines)

    @property
    def score(self) -> float:
        """The lines' confidence weighted by their characters."""
        chars = sum(len(line.text) for line in self.lines) or 1
        return sum(line.score * len(line.text) for line in self.lines) / chars


def union(boxes: Iterable[Box]) -> Box:
    """The smallest box holding ``boxes``."""
    items = list(boxes)
    return (min(b[0] for b in items), min(b[1] for b in items), max(b[2] for b in items), max(b[3] for b in items))


def group_lines(boxes: Sequence[OcrBox], scale: float = 1.0, max_gap: float = 2.0) -> list[Line]:
    """Join boxes that overlap vertically by half their height, have similar heights and are at
    most ``max_gap`` heights apart into lines (one space between them); box coordinates are
    multiplied by ``scale`` (OCR image to video pixels)."""
    rows: list[list[OcrBox]] = []
    for box in sorted(boxes, key=lambda b: b.x0):  # left to right: a row's last box is its rightmost
        for row in rows:
            last = row[-1]
            overlap = min(box.y1, last.y1) - max(box.y0, last.y0)
            height = min(box.height, last.height)
            gap = box.x0 - last.x1
            if overlap >= 0.5 * height and -0.5 * height <= gap <= max_gap * height and abs(box.height - last.height) < 0.4 * height:
                row.append(box)
                break
        else:
            rows.append([box])
    lines = []
    for row in rows:
        chars = sum(len(b.text) for b in row) or 1
        lines.append(
            Line(
                text=fix_digit_confusions(" ".join(b.text.strip() for b in row)),
                box=union((b.x0 * scale, b.y0 * scale, b.x1 * scale, b.y1 * scale) for b in row),
                score=sum(b.score * len(b.text) for b in row) / chars,
                height=sum(b.height for b in row) / len(row) * scale,
            )
        )
    return lines


def group_blocks(lines: Sequence[Line], max_gap: float = 0.5, max_height_ratio: float = 1.3) -> list[Block]:
    """Stack lines into blocks: a line joins a block when it starts at most ``max_gap`` times
    its height below the block's last line, overlaps it horizontally, and its height is within
    ``max_height_ratio`` of the block's median line height."""
    blocks: list[list[Line]] = []
    for line in sorted(lines, key=lambda x: x.box[1]):
        for block in blocks:
            last = block[-1]
            median = sorted(x.height for x in block)[len(block) // 2]
            below = line.box[1] - last.box[3]
            across = min(line.box[2], last.box[2]) - max(line.box[0], last.box[0])
            ratio = max(line.height, median) / max(1e-6, min(line.height, median))
            if -0.5 * line.height <= below <= max_gap * min(line.height, median) and across > 0 and ratio <= max_height_ratio:
                block.append(line)
                break
        else:
            blocks.append([line])
    return [Block(b) for b in blocks]


class _Boxed(Protocol):
    @property
    def box(self) -> Box: ...


T = TypeVar("T", bound=_Boxed)


def _bands(items: Sequence[T], low: int, high: int) -> list[list[T]]:
    """Items grouped by the gaps between them along one axis (box indices ``low``/``high``)."""
    groups: list[list[T]] = []
    reach = float("-inf")
    for item in sorted(items, key=lambda it: it.box[low]):
        if not groups or item.box[low] > reach:
            groups.append([item])
        else:
            groups[-1].append(item)
        reach = max(reach, item.box[high])
    return groups


def reading_order(items: Sequence[T]) -> list[T]:
    """Recursive XY-cut: horizontal bands top to bottom, then columns left to right."""
    items = list(items)
    if len(items) <= 1:
        return items
    bands = _bands(items, 1, 3)
    if len(bands) > 1:
        return [b for band in bands for b in reading_order(band)]
    columns = _bands(items, 0, 2)
    if len(columns) > 1:
        return [b for column in columns for b in reading_order(column)]
    return sorted(items, key=lambda b: (b.box[1], b.box[0]))


def layout(boxes: Sequence[OcrBox], scale: float = 1.0) -> list[Block]:
    """Boxes, lines, blocks, in reading order."""
    return reading_order(group_blocks(group_lines(boxes, scale)))
