"""The Retriever protocol: a question in, the passages that may answer it out, best first."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..schema import Hit


@runtime_checkable
class Retriever(Protocol):
    """Finds passages for a query in an index. ``k`` and ``min_score`` default to the
    retriever's own (from `RetrievalConfig`); ``kind`` keeps only passages of that kind
    (``speech``, ``screen``)."""

    def warm_up(self) -> None: ...

    def retrieve(
        self, query: str, k: int | None = None, min_score: float | None = None, *, kind: str | None = None
    ) -> list[Hit]: ...
