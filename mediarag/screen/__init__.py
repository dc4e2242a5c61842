"""Text on screen as evidence: slides, console text, chart titles, lower-thirds.

`ScreenConfig` (the ``screen`` settings) is all this package imports; the stage
(`mediarag.screen.stage`, registered as ``screen`` after ``decode``), frame sampling
(`frames`), the OCR (`ocr`, the ``screen`` extra), layout and spans load when a pipeline uses
them. `thumbnail.frame_at` gives the frame shown at a moment (the app's thumbnails).
"""

from .config import ScreenConfig

__all__ = ["ScreenConfig"]
