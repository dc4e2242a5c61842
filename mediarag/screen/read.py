"""Reading a video's screen text: frames sampled, read by the OCR, turned into timed spans.

When only a band of rows changed since the last reading (a console line appended, a status bar),
only that band is read again, with a margin so that the lines crossing it are whole; the lines of
the last reading outside the band are kept. A screen recording whose console grows every few
seconds then costs a fraction of a full read per change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..schema import Segment
from .config import ScreenConfig
from .frames import Sample, SampleStats, sample_frames
from .layout import BoxFilter
from .ocr import OcrBox, OcrEngine
from .spans import Reading, SpanSet, build_spans, screen_segments

#: Rows read above and below a changed band, as a share of the image's height (a title line).
BAND_MARGIN = 0.08


@dataclass
class ScreenText:
    """What was read on a video's screen: the raw readings (one per sampled frame), the spans
    they make, and what it cost (CPU seconds of this process)."""

    readings: list[Reading]
    spans: SpanSet
    stats: SampleStats
    ocr_cpu_s: float = 0.0
    cpu_s: float = 0.0
    config: ScreenConfig = field(default_factory=ScreenConfig)

    def segments(self) -> list[Segment]:
        """The block spans worth a passage, as evidence of kind ``screen``."""
        return screen_segments(self.spans.blocks, self.config.min_chars)


def read_screen(path: str | Path, engine: OcrEngine, config: ScreenConfig | None = None) -> ScreenText:
    """Read the text shown in ``path``'s video stream (see `mediarag.screen.frames` for which
    frames, `mediarag.screen.spans` for how readings become spans)."""
    config = config or ScreenConfig()
    stats = SampleStats()
    readings: list[Reading] = []
    ocr_cpu = 0.0
    cpu0 = time.process_time()
    previous: list[OcrBox] | None = None
    for sample in sample_frames(path, config, stats):
        before = time.process_time()
        boxes = read_sample(engine, sample, previous)
        ocr_cpu += time.process_time() - before
        previous = boxes
        readings.append(Reading(sample.time, sample.start, sample.prev_end, sample.scale, boxes, sample.forced))
    box_filter = BoxFilter(config.min_height_px, config.min_score)
    spans = build_spans(readings, stats.duration, box_filter, config.min_similarity)
    return ScreenText(readings, spans, stats, ocr_cpu, time.process_time() - cpu0, config)


def read_sample(engine: OcrEngine, sample: Sample, previous: list[OcrBox] | None) -> list[OcrBox]:
    """The lines on a sample's screen: the whole image read, or, for a sample with a ``band``,
    the band read again (with `BAND_MARGIN` rows around it) and ``previous`` kept elsewhere."""
    image = sample.image
    if sample.band is None or previous is None:
        return engine.read(image)
    height = image.shape[0]
    top, bottom = sample.band
    margin = BAND_MARGIN * height
    first, last = int(max(0.0, top - margin)), int(min(float(height), bottom + margin))
    crossing = [
        _shifted(b, first)
        for b in engine.read(np.ascontiguousarray(image[first:last]))
        if (b.y0 > 1 or first == 0) and (b.y1 < last - first - 2 or last == height)  # not cut by the crop
    ]
    fresh = [b for b in crossing if b.y1 >= top and b.y0 <= bottom]
    kept = [b for b in previous if b.y1 < top or b.y0 > bottom]
    return kept + fresh


def _shifted(box: OcrBox, dy: float) -> OcrBox:
    return OcrBox(box.text, box.score, tuple((x, y + dy) for x, y in box.quad))  # type: ignore[arg-type]
