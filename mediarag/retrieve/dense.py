"""Retrieval by meaning: the query's embedding against the passages' vectors."""

from __future__ import annotations

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
        self, query: str, k: int | None = None, min_score: float | None = None, *, speaker: str | None = None
    ) -> list[Hit]:
        """The ``k`` best passages for ``query``; with ``speaker``, only passages in which that
        speaker (a name or a per-file label) says something, over-fetched so that ``k`` remain
        when the index has them."""
        if len(self.store) == 0:
            return []
        floor = self.min_score if min_score is None else min_score
        k = k or self.k
        vector = self.query_vector(query)
        if speaker is None:
            return self.store.search(vector, k=k, min_score=floor)
        wanted = speaker.strip().casefold()
        fetch = k * OVERFETCH
        while True:
            hits = self.store.search(vector, k=fetch, min_score=floor)
            kept = [h for h in hits if speaks(h.chunk, wanted)]
            if len(kept) >= k or len(hits) < fetch or fetch >= len(self.store):
                return kept[:k]
            fetch *= 4


#: How many more passages a speaker-filtered search fetches at first.
OVERFETCH = 8


def speaks(chunk: Chunk, speaker: str) -> bool:
    """Whether ``speaker`` (case-folded) says all or part of a passage."""
    if chunk.speaker and chunk.speaker.casefold() == speaker:
        return True
    return any(s.speaker and s.speaker.casefold() == speaker for s in chunk.sentences)
