"""A vector store shared by many threads: reads run side by side, changes run alone.

`FaissStore` changes its list of segments when it commits or takes in another process's commit
(`refresh`); a search running at that moment could see half of it. `GuardedStore` wraps a store
so that reads (search, sources, transcripts...) hold a shared lock and every change (add,
delete, commit, rollback, refresh) an exclusive one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from ..schema import Chunk, Hit, SourceInfo, Transcript
    from .base import VectorStore


class ReadWriteLock:
    """Many readers or one writer. A waiting writer goes before readers that come after it, so
    a steady stream of readers cannot keep a writer out."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None  # the thread holding the write lock
        self._depth = 0
        self._writers_waiting = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Hold the lock shared (inside `writing` on the same thread it is already held)."""
        me = threading.get_ident()
        if self._writer == me:
            yield
            return
        with self._cond:
            while self._writer is not None or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock alone (re-entrant on the same thread)."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                self._writers_waiting += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._writers_waiting -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._writer = None
                    self._cond.notify_all()


class GuardedStore:
    """``store`` (a `mediarag.store.base.VectorStore`) behind a `ReadWriteLock`.

    ``writing()`` holds the exclusive lock over several calls, e.g. a delete and its commit, so
    no reader sees the change half made::

        with guarded.writing():
            guarded.delete_source(source)
            guarded.commit()
    """

    def __init__(self, store: VectorStore) -> None:
        self.inner = store
        self.lock = ReadWriteLock()

    def writing(self) -> contextlib.AbstractContextManager[None]:
        """The exclusive lock, for changes made of several calls."""
        return self.lock.writing()

    # Reads -------------------------------------------------------------------------------

    def search(self, vector: np.ndarray, k: int = 4, min_score: float | None = None) -> list[Hit]:
        with self.lock.reading():
            return self.inner.search(vector, k, min_score)

    def sources(self) -> dict[str, SourceInfo]:
        with self.lock.reading():
            return self.inner.sources()

    def chunks(self, source: str) -> list[Chunk]:
        with self.lock.reading():
            return self.inner.chunks(source)

    def transcript(self, source: str) -> Transcript:
        with self.lock.reading():
            return self.inner.transcript(source)

    def has_transcript(self, source: str) -> bool:
        with self.lock.reading():
            return self.inner.has_transcript(source)

    def vectors(self, source: str) -> np.ndarray:
        with self.lock.reading():
            return self.inner.vectors(source)

    def __len__(self) -> int:
        with self.lock.reading():
            return len(self.inner)

    # Changes -----------------------------------------------------------------------------

    def add_source(self, info: SourceInfo, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        with self.lock.writing():
            self.inner.add_source(info, transcript, chunks, vectors)

    def delete_source(self, source: str) -> int:
        with self.lock.writing():
            return self.inner.delete_source(source)

    def commit(self) -> None:
        with self.lock.writing():
            self.inner.commit()

    def rollback(self) -> None:
        with self.lock.writing():
            self.inner.rollback()

    def refresh(self) -> bool:
        with self.lock.writing():
            return self.inner.refresh()

    def __getattr__(self, name: str) -> Any:  # index_dir, generation and other read-only facts
        return getattr(self.inner, name)
