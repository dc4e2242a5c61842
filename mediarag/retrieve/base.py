"""The Retriever protocol: a question in, the passages that may answer it out, best first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..schema import Hit

if TYPE_CHECKING:
    from ..store.base import VectorStore


@runtime_checkable
class Retriever(Protocol):
    """Finds passages for a query in an index. ``k`` and ``min_score`` default to the
    retriever's own (from `RetrievalConfig`); ``store`` is the index searched. Filtering by
    speaker or kind is done over any retriever by `mediarag.retrieve.filters`."""

    k: int
    store: VectorStore

    def warm_up(self) -> None: ...

    def retrieve(
        self, query: str, k: int | None = None, min_score: float | None = None, *, kind: str | None = None
    ) -> list[Hit]: ...
