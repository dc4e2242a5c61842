"""Embedders: turn text into vectors for search.

`make_embedder` builds the one an `EmbeddingConfig` (or a model name) names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Embedder
from .config import EmbeddingConfig
from .e5 import E5_NAMES, E5Embedder, is_e5
from .sentence_transformers import SentenceTransformerEmbedder

if TYPE_CHECKING:
    from ..aws.clients import AwsConfig

__all__ = [
    "E5_NAMES",
    "E5Embedder",
    "Embedder",
    "EmbeddingConfig",
    "SentenceTransformerEmbedder",
    "is_e5",
    "make_embedder",
]


def make_embedder(config: EmbeddingConfig | str | None = None, aws: AwsConfig | None = None) -> Embedder:
    """The embedder for a model name: the packaged multilingual-e5-small engine for its names
    (`E5_NAMES`), a SageMaker endpoint for ``sagemaker[:<endpoint>]``, else sentence-transformers
    (a packaged alias, a directory or a hub name)."""
    config = EmbeddingConfig(model=config) if isinstance(config, str) else (config or EmbeddingConfig())
    name = config.model
    if name.lower() == "sagemaker" or name.lower().startswith("sagemaker:"):
        from .sagemaker import SageMakerEmbedder

        return SageMakerEmbedder(name.partition(":")[2] or None, config=aws)
    if is_e5(name):
        return E5Embedder()
    return SentenceTransformerEmbedder(name, device=config.device)
