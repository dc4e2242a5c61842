"""Retrieval by meaning: the query's embedding against the passages' vectors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..schema import Hit

if TYPE_CHECKING:
    import numpy as np

    from ..embed.base import Embedder
    from ..store.base import VectorStore


class DenseRetriever:
    """The ``k`` passages of ``store`` closest to the query by cosine similarity, at least
    ``min_score`` (None: the embedder's own measured threshold; an embedder without one keeps
    everything)."""

    def __init__(self, store: VectorStore, embedder: Embedder, k: int = 4, min_score: float | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.k = k
        self._min_score = min_score
        self._last: tuple[str, np.ndarray] | None = None

    @property
    def min_score(self) -> float:
        """The score a passage needs to be returned."""
        if self._min_score is not None:
            return self._min_score
        return float(getattr(self.embedder, "min_score", -1.0))

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding (the last one is kept: a conversation scores its own files
        with the same vector). Safe to call from several threads at once: each call returns the
        vector of its own query."""
        last = self._last
        if last is None or last[0] != query:
            last = (query, self.embedder.embed_queries([query])[0])
            self._last = last
        return last[1]

    def retrieve(self, query: str, k: int | None = None, min_score: float | None = None) -> list[Hit]:
        if len(self.store) == 0:
            return []
        floor = self.min_score if min_score is None else min_score
        return self.store.search(self.query_vector(query), k=k or self.k, min_score=floor)
