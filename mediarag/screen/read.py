"""Reading a video's screen text: frames sampled, read by the OCR, turned into timed spans."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..schema import Segment
from .config import ScreenConfig
from .frames import SampleStats, sample_frames
from .layout import BoxFilter
from .ocr import OcrEngine
from .spans import Reading, SpanSet, build_spans, screen_segments


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
    for sample in sample_frames(path, config, stats):
        before = time.process_time()
        boxes = engine.read(sample.image)
        ocr_cpu += time.process_time() - before
        readings.append(Reading(sample.time, sample.start, sample.prev_end, sample.scale, boxes, sample.forced))
    box_filter = BoxFilter(config.min_height_px, config.min_score)
    spans = build_spans(readings, stats.duration, box_filter, config.min_similarity)
    return ScreenText(readings, spans, stats, ocr_cpu, time.process_time() - cpu0, config)
