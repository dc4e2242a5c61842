"""Segmenters: group a transcript's timed sentences into passages to embed and index."""

from .base import Segmenter
from .recursive import RecursiveCharacterSegmenter
from .semantic import CosineMinimaSegmenter
from .window import FixedWindowSegmenter

__all__ = [
    "CosineMinimaSegmenter",
    "FixedWindowSegmenter",
    "RecursiveCharacterSegmenter",
    "Segmenter",
]
