"""Embedders: turn text into vectors for search."""

from .base import Embedder
from .sentence_transformers import SentenceTransformerEmbedder

__all__ = ["Embedder", "SentenceTransformerEmbedder"]
