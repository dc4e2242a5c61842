"""Retrieval restricted to passages of one speaker or one kind (speech, screen text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..schema import Hit
    from .dense import DenseRetriever

#: How many more passages than asked for a filtered search looks at first.
WIDEN = 8


@dataclass(frozen=True)
class PassageFilter:
    """Which passages may be returned: ``speaker`` (the label or enrolled name, case-insensitive)
    and ``kind`` (``speech`` or ``screen``); None accepts any."""

    speaker: str | None = None
    kind: str | None = None

    @property
    def empty(self) -> bool:
        """Whether it accepts every passage."""
        return self.speaker is None and self.kind is None

    def accepts(self, hit: Hit) -> bool:
        """Whether ``hit``'s passage passes."""
        chunk = hit.chunk
        if self.kind is not None and chunk.kind != self.kind:
            return False
        if self.speaker is not None and (chunk.speaker or "").casefold() != self.speaker.casefold():
            return False
        return True


def retrieve_filtered(
    retriever: DenseRetriever,
    query: str,
    where: PassageFilter,
    k: int | None = None,
    min_score: float | None = None,
) -> list[Hit]:
    """The ``k`` best passages for ``query`` that ``where`` accepts, best first.

    Looks at ``WIDEN`` times ``k`` passages first and, when too few of them pass while more
    reach the score floor, at every passage.
    """
    k = k or retriever.k
    if where.empty:
        return retriever.retrieve(query, k, min_score)
    total = len(retriever.store)
    wanted = min(total, k * WIDEN)
    while True:
        found = retriever.retrieve(query, wanted, min_score)
        hits = [h for h in found if where.accepts(h)]
        if len(hits) >= k or wanted >= total or len(found) < wanted:  # the last: none more above the floor
            return hits[:k]
        wanted = total
