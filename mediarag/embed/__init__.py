"""Embedders: turn text into vectors for search."""

from .base import Embedder
from .e5 import E5Embedder
from .sentence_transformers import SentenceTransformerEmbedder

__all__ = ["E5Embedder", "Embedder", "SentenceTransformerEmbedder"]
