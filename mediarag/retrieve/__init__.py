"""Retrieval: the passages that answer a question, and the citations made from them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Retriever
from .query import MAX_QUERY_CHARS, check_query
from .citations import cite, cite_for
from .config import RetrievalConfig, RetrievalMode
from .dense import DenseRetriever
from .hybrid import HybridRetriever

if TYPE_CHECKING:
    from ..embed.base import Embedder
    from ..store.base import VectorStore

__all__ = [
    "MAX_QUERY_CHARS", "DenseRetriever", "HybridRetriever", "RetrievalConfig", "RetrievalMode", "Retriever",
    "check_query", "cite", "cite_for", "make_retriever",
]  # fmt: skip


def make_retriever(config: RetrievalConfig, store: VectorStore, embedder: Embedder) -> DenseRetriever | HybridRetriever:
    """The retriever ``config.mode`` names, over ``store`` with ``embedder``."""
    if config.mode == "dense":
        return DenseRetriever(store, embedder, k=config.k, min_score=config.min_score)
    from ..store.keywords import FuzzyMatch

    return HybridRetriever(
        store,
        embedder,
        k=config.k,
        min_score=config.min_score,
        mode=config.mode,
        fusion=config.fusion,
        candidates=config.candidates,
        rrf_k=config.rrf_k,
        keyword_weight=config.keyword_weight,
        keyword_floor=config.keyword_floor,
        min_confidence=config.min_confidence,
        fuzzy=FuzzyMatch(min_similarity=config.fuzzy),
        cross_fuzzy=FuzzyMatch(min_similarity=config.cross_fuzzy),
    )
