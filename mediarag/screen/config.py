"""`ScreenConfig`: reading the text shown in a video (the ``screen`` settings).

The defaults are measured choices (benchmarks/results/screen.md): which frames are read, what
counts as a change of screen, how much OCR an hour of video may cost, and which recognised
lines are trusted.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DecodeMode = Literal["auto", "all", "nonref", "key"]


class ScreenConfig(BaseModel):
    """Options of the screen-text stage (`mediarag.screen.stage`), on by default for files with
    a video stream (audio-only files are left alone).

    Frames are decoded with PyAV and turned at once into small grey thumbnails; a change of
    screen is read with OCR once the screen has been still for ``settle_s`` (or after
    ``max_wait_s`` if it never settles), at most ``max_reads_per_min`` times a minute (and
    ``max_forced_per_min`` for a screen that never settles: video, animation). A slide held for
    minutes is read once; a change confined to a band of rows re-reads only that band
    (``partial_reads``). What is read becomes passages of kind ``screen``, timed from when the
    text appears to when it goes.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="Read the text on screen of files with a video stream.")
    hints: Literal["hotwords", "off"] = Field(
        "hotwords",
        description="'hotwords': words read on screen around a stretch of speech are given to "
        "Whisper (faster-whisper) so that names on slides are spelled right; 'off': not.",
    )
    threads: int = Field(1, ge=1, description="onnxruntime threads of the OCR (1 is the most efficient on shared cores).")
    min_score: float = Field(
        0.80, ge=0.0, le=1.0, description="Recognition confidence a line needs to be kept."
    )
    min_height_px: float = Field(
        10.0, ge=0.0, description="Height a line's box needs, in pixels of the OCR image (at most ocr_max_width wide)."
    )
    min_chars: int = Field(3, ge=1, description="Characters a passage needs (it also needs a letter: time codes are left out).")
    decode: DecodeMode = Field(
        "auto",
        description="Frames decoded: 'auto' (keyframes only when they are at most auto_max_gop_s "
        "apart, else reference frames), 'all', 'nonref' or 'key'.",
    )
    auto_max_gop_s: float = Field(2.0, gt=0, description="auto: the keyframe interval below which keyframes suffice.")
    max_thumb_fps: float = Field(5.0, gt=0, description="Frames per second of video compared for changes.")
    pixel_delta: int = Field(24, ge=0, le=255, description="Grey levels a thumbnail pixel must move to count as changed.")
    change_fraction: float = Field(
        0.0015, ge=0.0, le=1.0, description="Share of thumbnail pixels that must change for a change of screen."
    )
    settle_s: float = Field(0.4, ge=0, description="A change is read once the screen has been still this long.")
    max_wait_s: float = Field(2.0, ge=0, description="... or this long after it if the screen never settles.")
    max_reads_per_min: float = Field(30.0, gt=0, description="OCR reads of settled screens per minute of video.")
    max_forced_per_min: float = Field(6.0, gt=0, description="OCR reads of screens that never settle, per minute.")
    burst: int = Field(4, ge=1, description="Settled reads allowed at once above the rate.")
    forced_burst: int = Field(2, ge=1, description="Forced reads allowed at once above the rate.")
    ocr_max_width: int = Field(1280, ge=160, description="Frames are downscaled to at most this width before OCR.")
    thumb_width: int = Field(160, ge=16, description="Width of the change detector's thumbnails.")
    thumb_height: int = Field(90, ge=9, description="Height of the change detector's thumbnails.")
    partial_reads: bool = Field(
        True,
        description="When a settled change is confined to a band of rows (a console line, a status bar), "
        "read only that band and keep the rest of the last reading.",
    )
    max_band_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="partial_reads: the tallest band, as a share of the frame's height, read alone."
    )
    min_similarity: float = Field(
        0.9, gt=0.0, le=1.0, description="Two readings are the same text at this similarity (and equal digits)."
    )
    decoder_threads: int = Field(1, ge=1, description="Video decoder threads.")

    @property
    def max_reads_per_hour(self) -> float:
        """The most OCR reads an hour of video can cost (settled and forced reads together)."""
        return 60.0 * (self.max_reads_per_min + self.max_forced_per_min)
