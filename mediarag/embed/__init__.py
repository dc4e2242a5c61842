"""Embedders: turn text into vectors for search."""

from .base import Embedder
from .e5 import E5_NAMES, E5Embedder, is_e5
from .sentence_transformers import SentenceTransformerEmbedder

__all__ = ["E5_NAMES", "E5Embedder", "Embedder", "SentenceTransformerEmbedder", "is_e5", "make_embedder"]


def make_embedder(name: str) -> Embedder:
    """The embedder for a model name: the packaged multilingual-e5-small engine for its names
    (`E5_NAMES`), else sentence-transformers (a packaged alias, a directory or a hub name)."""
    if is_e5(name):
        return E5Embedder()
    return SentenceTransformerEmbedder(name)
