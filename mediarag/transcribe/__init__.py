"""Transcribers: turn audio into a timestamped transcript."""

from .base import ProgressCallback, Transcriber
from .faster_whisper import FasterWhisperTranscriber

__all__ = ["FasterWhisperTranscriber", "ProgressCallback", "Transcriber", "TransformersTranscriber"]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name == "TransformersTranscriber":  # needs torch: imported on first use
        from .transformers import TransformersTranscriber

        return TransformersTranscriber
    raise AttributeError(name)
