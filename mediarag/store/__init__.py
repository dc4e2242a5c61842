"""Vector stores: chunks and their vectors, persisted and searchable by cosine similarity."""

from .base import VectorStore
from .faiss import FaissStore

__all__ = ["FaissStore", "VectorStore"]
