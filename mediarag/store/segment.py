"""Segments of an index in memory: the committed ones (a FAISS index each, read from disk, with
their keyword data) and the pending one (files added since the last commit)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from ..errors import IndexStoreError
from ..files import write_atomic
from ..schema import Chunk, SourceInfo
from ..text.analysis import ANALYSIS_VERSION
from .layout import (
    IndexType,
    LegacyManifest,
    LegacyMeta,
    SegmentMeta,
    SegmentRef,
    StoredSource,
    read_segment_meta,
    segment_files,
    terms_file,
)
from .terms import PassageTerms

log = logging.getLogger("mediarag.store")

#: Graph degree and build/search breadth of HNSW segments.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64

#: A hit before it becomes a `mediarag.schema.Hit`: cosine score and passage.
Candidate = tuple[float, Chunk]


@dataclass
class SourceEntry:
    """One file in a segment: its passages sit at ``first .. first + len(chunks)``."""

    info: SourceInfo
    transcript_sha: str
    chunks: list[Chunk]
    first: int = 0
    transcript_json: bytes | None = None  # pending only: not yet in transcripts/
    terms: PassageTerms | None = field(default=None, repr=False)  # analyzed on first use

    def stored(self) -> StoredSource:
        return StoredSource.model_construct(info=self.info, transcript=self.transcript_sha, chunks=self.chunks)

    def passage_terms(self) -> PassageTerms:
        """The keyword terms of this file's passages (analyzed from their text when not stored)."""
        if self.terms is None:
            self.terms = PassageTerms.of_chunks(self.chunks, self.info.language, self.info.task)
        return self.terms


def new_index(dimension: int, index_type: str) -> Any:
    """An empty FAISS index of positions 0..n-1 scoring by inner product."""
    if index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        return index
    return faiss.IndexFlatIP(dimension)


class CommittedSegment:
    """A segment as a generation names it: immutable files, minus the files it no longer serves
    (``deleted``) and those a pending change hides until it is committed."""

    def __init__(
        self, name: str, index: Any, entries: list[SourceEntry], *, legacy: bool = False, keywords: bool = True
    ) -> None:
        self.name = name
        self.index = index
        self.legacy = legacy  # format 1: rewritten at the next commit
        self.keywords = keywords  # has a current terms file; if not, rewritten at the next commit
        self.entries: dict[str, SourceEntry] = {e.info.source: e for e in entries}
        self.total = int(index.ntotal)
        self.chunk_at: list[Chunk | None] = [None] * self.total
        for entry in entries:
            self.chunk_at[entry.first : entry.first + len(entry.chunks)] = entry.chunks
        self.deleted: set[str] = set()
        self.hidden: set[str] = set()
        self._visible: np.ndarray | None = None

    # Loading ------------------------------------------------------------------------------------

    @classmethod
    def load(cls, directory: Path, ref: SegmentRef, dimension: int | None, index_type: str) -> CommittedSegment:
        """Read a segment's files; FileNotFoundError when one is gone (a newer generation may
        have merged it away), `IndexStoreError` when they are corrupt or do not match."""
        vectors_name, meta_name = segment_files(ref.name)
        meta = read_segment_meta(directory / meta_name)
        path = directory / vectors_name
        index = _read_index(path)
        expected = faiss.IndexHNSWFlat if index_type == "hnsw" else faiss.IndexFlatIP
        count = sum(len(s.chunks) for s in meta.sources)
        if not isinstance(index, expected) or index.d != dimension or not index.ntotal == count == ref.chunks:
            raise IndexStoreError(
                f"{path}: segment does not match its metadata ({index_type}, dimension {dimension}, "
                f"{ref.chunks} passages)"
            )
        terms = _read_terms(directory, ref.name, meta.keywords, count)
        entries, first = [], 0
        for stored in meta.sources:
            source = stored.info.source
            if any(c.source != source for c in stored.chunks) or source in {e.info.source for e in entries}:
                raise IndexStoreError(f"{directory / meta_name}: corrupt segment metadata for {source}")
            own = terms.rows(first, len(stored.chunks)) if terms is not None else None
            entries.append(SourceEntry(stored.info, stored.transcript, stored.chunks, first, terms=own))
            first += len(stored.chunks)
        segment = cls(ref.name, index, entries, keywords=terms is not None)
        for source in ref.deleted:
            segment.drop(source)
        return segment

    @classmethod
    def load_legacy(cls, directory: Path, manifest: LegacyManifest, meta: LegacyMeta) -> CommittedSegment:
        """A format-1 generation as one segment (its FAISS ids mapped to positions)."""
        index: Any = None
        if manifest.index is not None:
            path = directory / manifest.index
            wrapped = _read_index(path)
            expected = faiss.IndexHNSWFlat if meta.index_type == "hnsw" else faiss.IndexFlatIP
            index = faiss.downcast_index(wrapped.index) if isinstance(wrapped, faiss.IndexIDMap2) else None
            if not isinstance(index, expected) or wrapped.d != meta.dimension:
                raise IndexStoreError(
                    f"{path}: FAISS index does not match its metadata "
                    f"(expected {meta.index_type}, inner product, dimension {meta.dimension})"
                )
            ids = faiss.vector_to_array(wrapped.id_map)
        else:
            ids = np.empty(0, np.int64)
        position = {int(id_): i for i, id_ in enumerate(ids.tolist())}
        entries: list[SourceEntry] = []
        order: list[int] = []
        for stored in meta.sources:
            source = stored.info.source
            bad = len(stored.ids) != len(stored.chunks) or any(c.source != source for c in stored.chunks)
            if bad or any(i not in position for i in stored.ids):
                raise IndexStoreError(
                    f"{directory / manifest.meta}: index metadata does not match the FAISS index {manifest.index}"
                )
            entries.append(SourceEntry(stored.info, stored.transcript, stored.chunks, len(order)))
            order += [position[i] for i in stored.ids]
        if len(order) != len(ids) or len(set(order)) != len(order):
            raise IndexStoreError(
                f"{directory / manifest.meta}: index metadata does not match the FAISS index {manifest.index}"
            )
        dimension = meta.dimension or 1
        reordered = new_index(dimension, meta.index_type)
        if order:
            vectors = index.reconstruct_n(0, index.ntotal)[np.asarray(order)]
            reordered.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(f"v1:{manifest.meta}", reordered, entries, legacy=True, keywords=False)

    # State --------------------------------------------------------------------------------------

    @property
    def live(self) -> int:
        """Passages this segment serves (hidden ones excepted)."""
        return sum(len(e.chunks) for s, e in self.entries.items() if s not in self.hidden)

    def drop(self, source: str) -> None:
        """The segment no longer serves ``source`` (committed)."""
        if self.entries.pop(source, None) is not None:
            self.deleted.add(source)
            self._visible = None

    def hide(self, source: str) -> bool:
        """Hide ``source`` until the pending change is committed or rolled back."""
        if source in self.entries and source not in self.hidden:
            self.hidden.add(source)
            self._visible = None
            return True
        return False

    def settle(self) -> None:
        """The pending change was committed: hidden files are dropped."""
        for source in self.hidden:
            self.drop(source)
        self.hidden.clear()

    def unhide(self) -> None:
        """The pending change was rolled back."""
        self.hidden.clear()
        self._visible = None

    @property
    def must_rewrite(self) -> bool:
        """Whether the next commit rewrites this segment: format 1, or no current keyword data."""
        return self.legacy or not self.keywords

    def ref(self) -> SegmentRef:
        """How the manifest lists this segment, once the pending change is committed."""
        return SegmentRef(name=self.name, chunks=self.total, deleted=sorted(self.deleted | self.hidden))

    def visible_entries(self) -> list[SourceEntry]:
        return [e for s, e in self.entries.items() if s not in self.hidden]

    def vectors(self, entry: SourceEntry) -> np.ndarray:
        if not entry.chunks:
            return np.zeros((0, self.index.d), dtype=np.float32)
        return self.index.reconstruct_n(entry.first, len(entry.chunks)).astype(np.float32)

    # Search -------------------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int) -> list[list[Candidate]]:
        """The ``k`` best visible passages for each (unit-length) query row."""
        live = self.live
        if live == 0 or k <= 0:
            return [[] for _ in range(len(queries))]
        kk = min(k, live)
        if live == self.total:
            scores, positions = self.index.search(queries, kk)
        else:
            bits = np.packbits(self._visible_mask(), bitorder="little")
            selector = faiss.IDSelectorBitmap(self.total, faiss.swig_ptr(bits))
            if isinstance(self.index, faiss.IndexHNSWFlat):
                params: Any = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, kk))
            else:
                params = faiss.SearchParameters(sel=selector)
            scores, positions = self.index.search(queries, kk, params=params)
        out = []
        for row_scores, row_positions in zip(scores.tolist(), positions.tolist()):
            out.append([(s, self.chunk_at[p]) for s, p in zip(row_scores, row_positions) if p >= 0])  # type: ignore[misc]
        return out

    def _visible_mask(self) -> np.ndarray:
        if self._visible is None:
            mask = np.zeros(self.total, dtype=bool)
            for source, entry in self.entries.items():
                if source not in self.hidden:
                    mask[entry.first : entry.first + len(entry.chunks)] = True
            self._visible = mask
        return self._visible


class PendingSegment:
    """Files added since the last commit: searched exactly, written as a segment by `commit`."""

    def __init__(self) -> None:
        self.entries: dict[str, SourceEntry] = {}
        self.vectors_of: dict[str, np.ndarray] = {}
        self._index: Any = None
        self._chunks: list[Chunk] = []

    @property
    def live(self) -> int:
        return sum(len(e.chunks) for e in self.entries.values())

    def add(self, entry: SourceEntry, vectors: np.ndarray) -> None:
        self.entries[entry.info.source] = entry
        self.vectors_of[entry.info.source] = vectors
        self._index = None

    def remove(self, source: str) -> SourceEntry | None:
        self.vectors_of.pop(source, None)
        self._index = None
        return self.entries.pop(source, None)

    def search(self, queries: np.ndarray, k: int) -> list[list[Candidate]]:
        if not self.live or k <= 0:
            return [[] for _ in range(len(queries))]
        if self._index is None:
            matrix = np.ascontiguousarray(np.vstack(list(self.vectors_of.values())), dtype=np.float32)
            self._index = new_index(matrix.shape[1], "flat")
            self._index.add(matrix)
            self._chunks = [c for e in self.entries.values() for c in e.chunks]
        scores, positions = self._index.search(queries, min(k, self.live))
        return [
            [(s, self._chunks[p]) for s, p in zip(row_scores, row_positions) if p >= 0]
            for row_scores, row_positions in zip(scores.tolist(), positions.tolist())
        ]


def write_segment(
    directory: Path,
    name: str,
    parts: Sequence[tuple[SourceEntry, np.ndarray]],
    *,
    dimension: int,
    embedder_name: str | None,
    index_type: IndexType,
    written: list[Path],
) -> CommittedSegment:
    """Write a segment of ``parts`` (files and their vectors) with its keyword data; return it as
    committed. The vectors, then the terms, then the metadata are written, each atomically.

    Each path is appended to ``written`` before it is written, so a failed commit can remove it.
    """
    index = new_index(dimension, index_type)
    entries: list[SourceEntry] = []
    first = 0
    for entry, vectors in parts:
        entries.append(SourceEntry(entry.info, entry.transcript_sha, entry.chunks, first, terms=entry.passage_terms()))
        first += len(entry.chunks)
    terms = PassageTerms.concat([e.passage_terms() for e in entries])
    if parts:
        matrix = np.ascontiguousarray(np.vstack([v for _, v in parts]), dtype=np.float32)
        if len(matrix):
            index.add(matrix)
    meta = SegmentMeta.model_construct(
        format="mediarag-faiss-segment",
        version=2,
        name=name,
        dimension=dimension,
        embedder_name=embedder_name,
        index_type=index_type,
        sources=[e.stored() for e in entries],
        keywords=terms.analysis,
    )
    vectors_name, meta_name = segment_files(name)
    for relative, data in (
        (vectors_name, lambda tmp: faiss.write_index(index, str(tmp))),
        (terms_file(name), terms.writer()),
        (meta_name, meta.model_dump_json().encode("utf-8")),
    ):
        written.append(directory / relative)
        write_atomic(directory / relative, data)  # type: ignore[arg-type]
    return CommittedSegment(name, index, entries)


def parts_of(segments: Iterable[CommittedSegment]) -> list[tuple[SourceEntry, np.ndarray]]:
    """The visible files of segments with their vectors, for writing them again as one."""
    return [(entry, segment.vectors(entry)) for segment in segments for entry in segment.visible_entries()]


def _read_terms(directory: Path, name: str, version: int | None, passages: int) -> PassageTerms | None:
    """A segment's stored terms; None when it has none, of another analysis, or they are lost or
    corrupt (its passages are then analyzed from their text, and the next commit rewrites it)."""
    if version is None:
        return None
    path = directory / terms_file(name)
    if version != ANALYSIS_VERSION:
        log.info("%s: keyword data of analysis version %s (now %s): analyzed again", path, version, ANALYSIS_VERSION)
        return None
    try:
        return PassageTerms.read(path, passages)
    except (OSError, IndexStoreError) as exc:
        log.warning("%s: %s; the passages are analyzed from their text until the next commit rewrites it",
                    path, getattr(exc, "strerror", None) or exc)  # fmt: skip
        return None


def _read_index(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(2, "missing", str(path))
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:
        raise IndexStoreError(f"{path}: corrupt or unreadable index: {exc}") from exc
