"""The VectorStore protocol: chunks and their vectors, searchable by cosine similarity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..schema import Chunk, Hit, SourceInfo, Transcript


@runtime_checkable
class VectorStore(Protocol):
    """Holds the passages of many files with their vectors and transcripts.

    Changes are staged in memory by `add_source` and `delete_source` and become
    durable, all at once, on `commit`; a crash before that leaves what was last committed.
    """

    def add_source(
        self, info: SourceInfo, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Add (or replace) one file's transcript, chunks and their vectors."""
        ...

    def delete_source(self, source: str) -> int:
        """Remove a file and its chunks; return how many chunks were removed."""
        ...

    def search(self, vector: np.ndarray, k: int = 4, min_score: float | None = None) -> list[Hit]:
        """The ``k`` chunks most similar to a unit-length query vector, best first."""
        ...

    def sources(self) -> dict[str, SourceInfo]: ...

    def chunks(self, source: str) -> list[Chunk]: ...

    def transcript(self, source: str) -> Transcript: ...

    def has_transcript(self, source: str) -> bool:
        """Whether an indexed file's transcript can still be read."""
        ...

    def vectors(self, source: str) -> np.ndarray:
        """The stored vectors of one file's chunks, in the order of `chunks`."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None:
        """Forget the changes made since the last commit."""
        ...

    def refresh(self) -> bool:
        """Take in what other writers committed; whether anything was new."""
        ...

    def __len__(self) -> int: ...
