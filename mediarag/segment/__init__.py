"""Segmenters: group a transcript's timed sentences into passages to embed and index.

`make_segmenter` builds the one a `SegmentationConfig` names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Segmenter
from .config import SegmentationConfig
from .recursive import RecursiveCharacterSegmenter
from .window import FixedWindowSegmenter

if TYPE_CHECKING:
    from ..embed.base import Embedder
    from .semantic import CosineMinimaSegmenter

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
    from .semantic import CosineMinimaSegmenter

    return CosineMinimaSegmenter(
        embedder,
        p_size=config.p_size,
        order=config.order,
        min_duration=config.min_passage_seconds,
        max_duration=config.max_passage_seconds,
        min_chars=config.min_passage_chars,
        max_chars=config.max_passage_chars,
        split_below=config.split_below,
        split_on_speaker=config.split_on_speaker,
    )


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name == "CosineMinimaSegmenter":  # needs scipy: imported on first use
        from .semantic import CosineMinimaSegmenter

        return CosineMinimaSegmenter
    raise AttributeError(name)
