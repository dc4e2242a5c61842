"""`EmbeddingConfig`: which model turns text into vectors (the ``embedding`` settings)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EmbeddingConfig(BaseModel):
    """The embedding model (`mediarag.embed.make_embedder`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model: str = Field(
        "multilingual-e5-small",
        description="'multilingual-e5-small' (packaged, ~100 languages in one space: English "
        "questions find Spanish or German speech), 'all-MiniLM-L6-v2' (packaged, English only), "
        "'sagemaker:<endpoint>' (or 'sagemaker' to read embed_ep_name; aws extra), or any "
        "sentence-transformers directory or hub name.",
    )
    device: str = Field(
        "cpu",
        description="sentence-transformers models: 'cpu', 'cuda' or 'auto' (cuda when there is a GPU). "
        "The default multilingual-e5-small engine runs on the CPU only.",
    )
