"""Retrieval by meaning: the query's embedding against the passages' vectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..schema import Chunk, Hit

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
        with the same vector)."""
        if self._last is None or self._last[0] != query:
            self._last = (query, self.embedder.embed_queries([query])[0])
        return self._last[1]

    def retrieve(
        self, query: str, k: int | None = None, min_score: float | None = None, *, kind: str | None = None
    ) -> list[Hit]:
        """The ``k`` best passages for ``query``; with ``kind`` (``speech``, ``screen``) only
        passages of that kind."""
        if len(self.store) == 0:
            return []
        floor = self.min_score if min_score is None else min_score
        vector = self.query_vector(query)
        if kind is None:
            return self.store.search(vector, k=k or self.k, min_score=floor)
        return filtered_search(self.store, vector, k or self.k, floor, lambda c: c.kind == kind)


#: How many more passages a filtered search fetches at first.
OVERFETCH = 8


def filtered_search(
    store: VectorStore, vector: np.ndarray, k: int, min_score: float | None, keep: Callable[[Chunk], bool]
) -> list[Hit]:
    """The ``k`` best hits whose passage ``keep`` accepts, over-fetching (8x, then 4x more each
    round) so that ``k`` remain when the index has them."""
    fetch = k * OVERFETCH
    while True:
        hits = store.search(vector, k=fetch, min_score=min_score)
        kept = [h for h in hits if keep(h.chunk)]
        if len(kept) >= k or len(hits) < fetch or fetch >= len(store):
            return kept[:k]
        fetch *= 4
