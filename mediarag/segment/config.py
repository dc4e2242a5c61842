"""`SegmentationConfig`: how sentences are grouped into passages (the ``segmentation`` settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SegmentationConfig(BaseModel):
    """Which segmenter runs, and its options (`mediarag.segment.make_segmenter`).

    Semantic defaults: fine minima (p_size=5, order=2) within 500 characters and 120 s. On spoken
    XQuAD they tie the best measured chunker within noise (benchmarks/README.md), and unlike the
    AWS sample's coarser p_size=10/order=5 they keep apart topics that change every sentence or
    two (ten unrelated clips in a row, tests/data/fleurs_en_concat.ogg).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    method: Literal["semantic", "recursive", "window"] = Field(
        "semantic",
        description="'semantic' (topic changes, the default), 'recursive' (characters) or 'window' (seconds).",
    )
    p_size: int = Field(5, ge=1, description="semantic: similarities weighted after each sentence.")
    order: int = Field(2, ge=1, description="semantic: neighbours a split point must be below.")
    split_below: float | None = Field(
        None,
        description="semantic: also split between consecutive sentences less similar than this "
        "(on the embedder's scale: multilingual-e5's unrelated sentences score ~0.8, MiniLM's ~0.1).",
    )
    split_on_speaker: bool = Field(
        True, description="semantic: start a new passage where the speaker changes (the speaker stage's labels)."
    )
    min_passage_seconds: float = Field(0.0, ge=0)
    max_passage_seconds: float = Field(120.0, gt=0)
    min_passage_chars: int = Field(0, ge=0)
    max_passage_chars: int = Field(500, gt=0)
    chunk_size: int = Field(500, gt=0, description="recursive: characters per chunk.")
    chunk_overlap: int = Field(0, ge=0, description="recursive: characters shared by neighbours.")
    window_seconds: float = Field(30.0, gt=0, description="window: length of each window.")
    window_overlap: float = Field(5.0, ge=0, description="window: seconds shared by neighbours.")
