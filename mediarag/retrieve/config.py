"""`RetrievalConfig`: how many passages a question gets, and how close they must be."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RetrievalConfig(BaseModel):
    """Options of the retriever (`mediarag.retrieve.DenseRetriever`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    k: int = Field(4, ge=1, description="Passages retrieved per question.")
    min_score: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity below which a passage is ignored; None uses the "
        "embedder's own measured threshold (0.78 for multilingual-e5-small, 0.35 for MiniLM).",
    )
