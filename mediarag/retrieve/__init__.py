"""Retrieval: the passages that answer a question, and the citations made from them."""

from .base import Retriever
from .query import MAX_QUERY_CHARS, check_query
from .citations import cite, cite_for
from .config import RetrievalConfig
from .dense import DenseRetriever

__all__ = ["MAX_QUERY_CHARS", "DenseRetriever", "RetrievalConfig", "Retriever", "check_query", "cite", "cite_for"]
