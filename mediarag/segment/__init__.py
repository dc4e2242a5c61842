"""Segmenters: group a transcript's timed sentences into passages to embed and index.

`make_segmenter` builds the one a `SegmentationConfig` names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Segmenter
from .config import SegmentationConfig
from .recursive import RecursiveCharacterSegmenter
from .semantic import CosineMinimaSegmenter
from .window import FixedWindowSegmenter

if TYPE_CHECKING:
    from ..embed.base import Embedder

__all__ = [
    "CosineMinimaSegmenter",
    "FixedWindowSegmenter",
    "RecursiveCharacterSegmenter",
    "SegmentationConfig",
    "Segmenter",
    "make_segmenter",
]


def make_segmenter(config: SegmentationConfig | None = None, embedder: Embedder | None = None) -> Segmenter:
    """The segmenter ``config`` describes; the semantic one embeds sentences with ``embedder``."""
    config = config or SegmentationConfig()
    if config.method == "recursive":
        return RecursiveCharacterSegmenter(config.chunk_size, config.chunk_overlap)
    if config.method == "window":
        return FixedWindowSegmenter(config.window_seconds, config.window_overlap)
    return CosineMinimaSegmenter(
        embedder,
        p_size=config.p_size,
        order=config.order,
        min_duration=config.min_passage_seconds,
        max_duration=config.max_passage_seconds,
        min_chars=config.min_passage_chars,
        max_chars=config.max_passage_chars,
        split_below=config.split_below,
    )
