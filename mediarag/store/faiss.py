"""A `mediarag.store.base.VectorStore` kept in memory and persisted with FAISS, in segments.

The files of an index directory are described in `mediarag.store.layout`. Changes are staged in
memory and written by `FaissStore.commit`: one new segment with the files added, a new
``manifest.json`` naming the generation's segments and what each no longer serves, written
atomically last. A crash at any point leaves the last committed generation; leftovers of an
unfinished commit are ignored on load and removed by the next commit.

Several processes may write one index. A commit holds the directory's lock from reading the
manifest to writing the next one; when another process committed in between, this store first
takes in that generation and then applies its own changes on top of it (per file, the last
commit wins), so no process's files are lost and nothing another generation references is
deleted. Readers call `FaissStore.refresh` to see what others committed.

Each segment carries its keyword data (`mediarag.store.terms`), written with it before the
manifest and merged with it; `FaissStore.keyword_search` finds passages by their words (BM25,
`mediarag.store.keywords`) over exactly the passages that vector search sees.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from pydantic import ValidationError

from .._threads import one_thread
from ..errors import ConfigError, IndexStoreError
from ..files import LockTimeout, exclusive_lock, fsync_dir, write_atomic
from ..schema import Chunk, Hit, SourceInfo, Transcript
from .layout import (
    LOCK,
    MANIFEST,
    SEGMENTS,
    TRANSCRIPTS,
    IndexType,
    LegacyManifest,
    LegacyMeta,
    Manifest,
    is_index_file,
    parse_manifest,
    plan_merges,
    segment_files,
    segment_name,
    terms_file,
    transcript_file,
)
from .keywords import FuzzyMatch, KeywordIndex
from .segment import CommittedSegment, PendingSegment, SourceEntry, parts_of, write_segment
from .terms import analysis_language

log = logging.getLogger("mediarag.store")

#: Seconds a commit waits for another process's commit to end before it gives up.
LOCK_TIMEOUT = 600.0


class FaissStore:
    """Chunks, vectors and transcripts of many media files, searchable by cosine similarity.

    ``index_dir`` need not exist: a missing or empty directory is an empty store, created on
    the first `commit`. ``dimension`` and ``embedder_name`` must match what an existing
    index was built with (``None`` takes the index's values); the first added source fixes the
    dimension when it is not known. ``index_type`` is ``"flat"`` (exact) or ``"hnsw"``
    (approximate); ``None`` takes the index's type, ``"flat"`` for a new index. A commit waits
    up to ``lock_timeout`` seconds for another process's commit.

    Raises:
        IndexStoreError: the directory holds an index that is unreadable, corrupt, was built
            with other settings, or has lost its manifest (see `repair`).
        ConfigError: an argument is invalid.
    """

    def __init__(
        self,
        index_dir: str | Path,
        dimension: int | None = None,
        embedder_name: str | None = None,
        index_type: str | None = None,
        *,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        if dimension is not None:
            if not isinstance(dimension, (int, np.integer)) or dimension <= 0:
                raise ConfigError(f"dimension must be a positive integer, not {dimension!r}")
            dimension = int(dimension)
        if index_type is not None and index_type not in ("flat", "hnsw"):
            raise ConfigError(f"index_type must be 'flat' or 'hnsw', not {index_type!r}")
        self._dir = Path(index_dir)
        self._dimension: int | None = dimension
        self._embedder_name: str | None = embedder_name
        self._index_type: IndexType = index_type or "flat"  # type: ignore[assignment]
        self.lock_timeout = lock_timeout
        self._segments: list[CommittedSegment] = []
        self._pending = PendingSegment()
        self._staged: set[str] = set()  # sources removed or replaced since the last commit
        self._generation: int | None = None
        self._changed = False
        self._keywords: KeywordIndex | None = None
        self._noted_keywords = False
        self._load(index_type)

    # ----------------------------------------------------------------- properties

    @classmethod
    def exists(cls, index_dir: str | Path) -> bool:
        """Whether ``index_dir`` holds a committed index."""
        return (Path(index_dir) / MANIFEST).is_file()

    @property
    def index_dir(self) -> Path:
        """The index directory."""
        return self._dir

    @property
    def dimension(self) -> int | None:
        """Length of the vectors, or ``None`` until the first source is added."""
        return self._dimension

    @property
    def embedder_name(self) -> str | None:
        """Name of the embedder the index is built with, if known."""
        return self._embedder_name

    @property
    def index_type(self) -> str:
        """``"flat"`` or ``"hnsw"``."""
        return self._index_type

    @property
    def generation(self) -> int | None:
        """The committed generation this store holds (``None`` before the first commit)."""
        return self._generation

    @property
    def segments(self) -> int:
        """How many segments the committed generation has."""
        return len(self._segments)

    @property
    def has_changes(self) -> bool:
        """Whether there are changes not yet written by `commit`."""
        return self._changed

    def __len__(self) -> int:
        """Number of chunks in the store."""
        return sum(s.live for s in self._segments) + self._pending.live

    # ----------------------------------------------------------------- reading

    def sources(self) -> dict[str, SourceInfo]:
        """Every file in the store, by source."""
        return {e.info.source: e.info.model_copy(deep=True) for e, _ in self._entries()}

    def chunks(self, source: str) -> list[Chunk]:
        """The chunks of one file, in time order; IndexStoreError if it is not in the store."""
        return list(self._locate(source)[0].chunks)

    def transcript(self, source: str) -> Transcript:
        """The transcript of one file; IndexStoreError if it is not in the store."""
        entry, _ = self._locate(source)
        data = entry.transcript_json
        path = self._dir / transcript_file(entry.transcript_sha)
        if data is None:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                if self.refresh():  # another process may have replaced it meanwhile
                    return self.transcript(source)
                raise IndexStoreError(
                    f"{path}: the transcript of {source} is missing; ingest the file again to restore it"
                ) from None
            except OSError as exc:
                raise IndexStoreError(f"{path}: cannot read transcript of {source}: {exc}") from exc
        try:
            return Transcript.model_validate_json(data)
        except ValidationError as exc:
            raise IndexStoreError(f"{path}: corrupt transcript of {source}: {exc}") from exc

    def has_transcript(self, source: str) -> bool:
        """Whether the transcript of an indexed file can be read (it was not lost)."""
        entry, _ = self._locate(source)
        return entry.transcript_json is not None or (self._dir / transcript_file(entry.transcript_sha)).is_file()

    def vectors(self, source: str) -> np.ndarray:
        """The stored unit-length vectors of one file's chunks, in the order of `chunks`."""
        entry, segment = self._locate(source)
        if segment is None:
            return self._pending.vectors_of[source].copy()
        return segment.vectors(entry)

    def search(self, vector: np.ndarray, k: int = 4, min_score: float | None = None) -> list[Hit]:
        """The ``k`` chunks most similar to ``vector`` (shape ``(d,)`` or ``(1, d)``), best first.

        Scores are cosine similarities; hits below ``min_score`` are dropped.
        """
        query = np.asarray(vector, dtype=np.float32)
        if query.ndim == 2 and query.shape[0] != 1:
            raise ConfigError(f"search takes one vector, got shape {query.shape}; use search_many")
        return self.search_many(query.reshape(1, -1), k, min_score)[0]

    def search_many(self, vectors: np.ndarray, k: int = 4, min_score: float | None = None) -> list[list[Hit]]:
        """`search` for each row of ``vectors`` (shape ``(n, d)``), in one batch."""
        queries = np.array(vectors, dtype=np.float32, copy=True, order="C")
        if queries.ndim == 1:
            queries = queries.reshape(1, -1)
        if queries.ndim != 2:
            raise ConfigError(f"query vectors must be 2-D, got shape {queries.shape}")
        if len(self) == 0 or k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        if queries.shape[1] != self._dimension:
            raise ConfigError(f"query vectors have dimension {queries.shape[1]}, the index has {self._dimension}")
        faiss.normalize_L2(queries)
        with one_thread() if len(queries) == 1 else contextlib.nullcontext():
            parts = [s.search(queries, k) for s in self._segments] + [self._pending.search(queries, k)]
        results: list[list[Hit]] = []
        for row in range(len(queries)):
            candidates = sorted((c for part in parts for c in part[row]), key=lambda c: -c[0])[:k]
            results.append(
                [Hit(chunk=chunk, score=score) for score, chunk in candidates if min_score is None or score >= min_score]
            )
        return results

    def keyword_search(self, query: str, k: int = 4, *, fuzzy: FuzzyMatch | None = None) -> list[Hit]:
        """The ``k`` passages whose words best match ``query``, best first, with their BM25 score
        relative to the question's term weight (`mediarag.store.keywords.KeywordHit.relative`:
        about 1 when a passage holds each of the question's terms once); passages holding none
        are left out.

        The question is analyzed as each language of the indexed passages
        (`mediarag.text.analysis.query_terms`); its words that no passage holds are matched to
        words spelled nearly alike (``fuzzy``; default `FuzzyMatch`).
        """
        if len(self) == 0 or k <= 0:
            return []
        hits = self.keyword_index().search(query, k, fuzzy=fuzzy)
        return [Hit(chunk=h.chunk, score=h.relative) for h in hits]

    def keyword_index(self) -> KeywordIndex:
        """The keyword index over what this store serves now (built on first use after a change)."""
        if self._keywords is None:
            entries = [entry for entry, _ in self._entries()]
            languages = [analysis_language(c, e.info.language, e.info.task) for e in entries for c in e.chunks]
            self._keywords = KeywordIndex([(e.passage_terms(), e.chunks) for e in entries], languages=languages)
        return self._keywords

    # ----------------------------------------------------------------- changes

    def add_source(self, info: SourceInfo, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add one file's transcript, chunks and their vectors, replacing any earlier entry.

        ``vectors`` has shape ``(len(chunks), dimension)``; rows are normalized to unit length.
        """
        source = info.source
        chunks = list(chunks)
        vecs = np.asarray(vectors, dtype=np.float32)
        if chunks:
            dim = self._dimension or (vecs.shape[-1] if vecs.ndim else 0)
            if vecs.ndim != 2 or vecs.shape != (len(chunks), dim) or dim == 0:
                raise ConfigError(f"vectors for {source} have shape {vecs.shape}, expected ({len(chunks)}, {dim})")
            if not np.isfinite(vecs).all():
                raise ConfigError(f"vectors for {source} contain NaN or infinite values")
        elif vecs.size:
            raise ConfigError(f"vectors for {source} have shape {vecs.shape}, expected no rows")
        for chunk in chunks:
            if chunk.source != source:
                raise ConfigError(f"chunk {chunk.id!r} belongs to {chunk.source}, not {source}")
        if transcript.source != source:
            raise ConfigError(f"transcript belongs to {transcript.source}, not {source}")

        self.delete_source(source)
        if chunks and self._dimension is None:
            self._dimension = int(vecs.shape[1])
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].start, chunks[i].end))
        rows = np.ascontiguousarray(np.take(vecs, order, axis=0) if chunks else vecs.reshape(0, self._dimension or 1))
        if chunks:
            faiss.normalize_L2(rows)
        data = transcript.model_dump_json().encode("utf-8")
        entry = SourceEntry(
            info.model_copy(deep=True), hashlib.sha256(data).hexdigest(), [chunks[i] for i in order], 0, data
        )
        self._pending.add(entry, rows)
        self._staged.add(source)
        self._changed = True
        self._keywords = None

    def delete_source(self, source: str) -> int:
        """Remove a file and its chunks; return how many chunks were removed (0 if absent)."""
        removed = self._pending.remove(source)
        count = len(removed.chunks) if removed else 0
        hidden = False
        for segment in self._segments:
            entry = segment.entries.get(source)
            if entry is not None and segment.hide(source):
                count, hidden = count or len(entry.chunks), True
        if removed is not None or hidden:
            self._staged.add(source)
            self._changed = True
            self._keywords = None
        return count

    def rollback(self) -> None:
        """Forget every change since the last commit (or since the store was opened)."""
        self._pending = PendingSegment()
        for segment in self._segments:
            segment.unhide()
        self._staged.clear()
        self._changed = False
        self._keywords = None

    def commit(self) -> None:
        """Write all changes to the index directory, atomically, on top of what other
        processes committed meanwhile.

        Raises:
            IndexStoreError: the directory cannot be written, or another process kept it
                locked for ``lock_timeout`` seconds; what was committed before stays, and the
                changes are still pending (`rollback` drops them).
        """
        if not self._changed and self._generation is not None:
            return
        try:
            if not self._dir.exists():
                self._dir.mkdir(parents=True)
                fsync_dir(self._dir.parent)
            for folder in (TRANSCRIPTS, SEGMENTS):
                (self._dir / folder).mkdir(exist_ok=True)
            with exclusive_lock(self._dir / LOCK, timeout=self.lock_timeout):
                self._commit_locked()
        except LockTimeout as exc:
            raise IndexStoreError(
                f"{self._dir}: another process is committing to this index ({exc.strerror}); try again later"
            ) from exc
        except (OSError, RuntimeError) as exc:  # faiss reports write errors as RuntimeError
            raise IndexStoreError(f"{self._dir}: cannot write index: {exc}") from exc

    def refresh(self) -> bool:
        """Take in what other processes committed since this store last read or wrote the
        index, keeping this store's own pending changes; whether anything was new."""
        for _ in range(3):
            manifest = self._read_manifest()
            if manifest is None or manifest.generation == self._generation:
                return False
            try:
                self._sync(manifest)
                return True
            except FileNotFoundError:
                continue  # merged away by a commit that just ended: read the newer manifest
        raise IndexStoreError(f"{self._dir}: index keeps changing while it is being read")

    # ----------------------------------------------------------------- internals

    def _entries(self) -> list[tuple[SourceEntry, CommittedSegment | None]]:
        found = [(e, s) for s in self._segments for e in s.visible_entries()]
        return found + [(e, None) for e in self._pending.entries.values()]

    def _locate(self, source: str) -> tuple[SourceEntry, CommittedSegment | None]:
        pending = self._pending.entries.get(source)
        if pending is not None:
            return pending, None
        for segment in self._segments:
            entry = segment.entries.get(source)
            if entry is not None and source not in segment.hidden:
                return entry, segment
        raise IndexStoreError(f"{source} is not in the index {self._dir}")

    def _commit_locked(self) -> None:
        on_disk = self._read_manifest()
        if on_disk is None and self._generation is None:
            # A new index: an empty generation first, so that index files without a manifest
            # always mean a lost manifest, never a first commit that did not finish.
            self._check_not_orphaned()
            empty = Manifest(
                generation=1, dimension=self._dimension, embedder_name=self._embedder_name, index_type=self._index_type
            )
            write_atomic(self._dir / MANIFEST, empty.model_dump_json().encode("utf-8"))
            fsync_dir(self._dir)
            on_disk = self._read_manifest()
        if on_disk is None:
            raise IndexStoreError(
                f"{self._dir / MANIFEST} disappeared while the index was open; nothing was written "
                f"(run 'mediarag repair --index {self._dir}')"
            )
        if on_disk.generation != self._generation:
            self._sync(on_disk)
        gen = (self._generation or 0) + 1
        written: list[Path] = []
        committed = False
        try:
            segments = list(self._segments)
            if self._pending.entries:
                self._write_transcripts(written)
                segments.append(self._write(segment_name(gen), self._pending_parts(), written))
            groups = plan_merges([(s.live, s.total) for s in segments], [s.must_rewrite for s in segments])
            merged = {
                group[0]: self._write(segment_name(gen, part), parts_of(segments[i] for i in group), written)
                for part, group in enumerate(groups)
            }
            absorbed = {i for group in groups for i in group[1:]}
            segments = [merged.get(i, s) for i, s in enumerate(segments) if i not in absorbed]
            fsync_dir(self._dir / SEGMENTS)
            manifest = Manifest(
                generation=gen,
                dimension=self._dimension,
                embedder_name=self._embedder_name,
                index_type=self._index_type,
                segments=[s.ref() for s in segments],
            )
            write_atomic(self._dir / MANIFEST, manifest.model_dump_json().encode("utf-8"))
            fsync_dir(self._dir)
            committed = True
        finally:
            if not committed:
                for path in written:
                    with contextlib.suppress(OSError):
                        path.unlink()
        for segment in segments:
            segment.settle()
        self._segments = segments
        self._pending = PendingSegment()
        self._staged.clear()
        self._generation = gen
        self._changed = False
        self._keywords = None
        self._collect_garbage()

    def _pending_parts(self) -> list[tuple[SourceEntry, np.ndarray]]:
        return [(e, self._pending.vectors_of[s]) for s, e in self._pending.entries.items()]

    def _write(self, name: str, parts: list[tuple[SourceEntry, np.ndarray]], written: list[Path]) -> CommittedSegment:
        return write_segment(
            self._dir,
            name,
            parts,
            dimension=self._dimension or 1,
            embedder_name=self._embedder_name,
            index_type=self._index_type,
            written=written,
        )

    def _write_transcripts(self, written: list[Path]) -> None:
        for entry in self._pending.entries.values():
            path = self._dir / transcript_file(entry.transcript_sha)
            if not path.is_file():
                assert entry.transcript_json is not None
                written.append(path)
                write_atomic(path, entry.transcript_json)
        fsync_dir(self._dir / TRANSCRIPTS)

    def _collect_garbage(self) -> None:
        """Delete what no committed segment refers to (under the lock: no writer is mid-commit)."""
        keep = {name for s in self._segments for name in (*segment_files(s.name), terms_file(s.name))}
        keep |= {transcript_file(e.transcript_sha) for s in self._segments for e in s.entries.values()}
        for folder in ("", SEGMENTS, TRANSCRIPTS):
            directory = self._dir / folder if folder else self._dir
            with contextlib.suppress(OSError):
                for path in directory.iterdir():
                    relative = f"{folder}/{path.name}" if folder else path.name
                    stray = path.name.startswith(".") and path.name.endswith(".tmp")
                    if stray or (is_index_file(relative) and relative not in keep):
                        with contextlib.suppress(OSError):
                            path.unlink()

    def _sync(self, manifest: Manifest | LegacyManifest) -> None:
        """Make the committed part of this store ``manifest``'s generation, keeping pending
        changes on top (FileNotFoundError when a segment it names is already gone)."""
        if isinstance(manifest, LegacyManifest):
            self._load_legacy(manifest, None)
        else:
            self._check_settings(manifest.dimension, manifest.embedder_name, manifest.index_type, None)
            if manifest.dimension is not None:
                self._dimension = manifest.dimension
            self._embedder_name = self._embedder_name or manifest.embedder_name
            self._index_type = manifest.index_type
            known = {s.name: s for s in self._segments}
            segments = []
            for ref in manifest.segments:
                segment = known.get(ref.name)
                if segment is None:
                    segment = CommittedSegment.load(self._dir, ref, self._dimension, self._index_type)
                else:
                    for source in ref.deleted:
                        segment.drop(source)
                segments.append(segment)
            self._segments = segments
        self._generation = manifest.generation
        self._keywords = None
        for source in self._staged:
            for segment in self._segments:
                segment.hide(source)
        self._note_missing_keywords()

    def _note_missing_keywords(self) -> None:
        """Say once that segments without keyword data are analyzed in memory until rewritten."""
        old = [s for s in self._segments if not s.keywords]
        if old and not self._noted_keywords:
            self._noted_keywords = True
            log.warning(
                "%s: %d of %d index segments have no keyword data (written by an earlier mediarag): "
                "keyword search analyzes their passages in memory, and the next commit stores it",
                self._dir, len(old), len(self._segments),
            )  # fmt: skip

    def _read_manifest(self) -> Manifest | LegacyManifest | None:
        path = self._dir / MANIFEST
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexStoreError(f"{path}: cannot read index manifest: {exc}") from exc
        return parse_manifest(data, str(path))

    def _load(self, requested_type: str | None) -> None:
        if self._dir.exists() and not self._dir.is_dir():
            raise IndexStoreError(f"{self._dir}: index path exists and is not a directory")
        for _ in range(3):
            manifest = self._read_manifest()
            if manifest is None:
                self._check_not_orphaned()
                return
            try:
                if isinstance(manifest, LegacyManifest):
                    self._load_legacy(manifest, requested_type)
                else:
                    self._check_settings(manifest.dimension, manifest.embedder_name, manifest.index_type, requested_type)
                    self._sync(manifest)
                return
            except FileNotFoundError as exc:
                # A concurrent commit may have replaced this generation; retry with the new one.
                again = self._read_manifest()
                if again is None or again.generation == manifest.generation:
                    raise IndexStoreError(f"{exc.filename}: index file is missing") from exc
        raise IndexStoreError(f"{self._dir}: index keeps changing while it is being read")

    def _load_legacy(self, manifest: LegacyManifest, requested_type: str | None) -> None:
        meta_path = self._dir / manifest.meta
        try:
            meta = LegacyMeta.model_validate_json(meta_path.read_bytes())
        except FileNotFoundError:
            raise
        except (OSError, ValidationError) as exc:
            raise IndexStoreError(f"{meta_path}: corrupt or unreadable metadata: {exc}") from exc
        self._check_settings(meta.dimension, meta.embedder_name, meta.index_type, requested_type)
        segment = CommittedSegment.load_legacy(self._dir, manifest, meta)
        self._dimension = meta.dimension if meta.dimension is not None else self._dimension
        self._embedder_name = meta.embedder_name or self._embedder_name
        self._index_type = meta.index_type
        self._segments = [segment] if segment.total or segment.entries else []
        self._generation = manifest.generation
        self._keywords = None
        self._note_missing_keywords()

    def _check_settings(self, dimension: Any, embedder: Any, index_type: Any, requested_type: str | None) -> None:
        for what, stored, requested in (
            ("dimension", dimension, self._dimension),
            ("embedder", embedder, self._embedder_name),
            ("index type", index_type, requested_type),
        ):
            if stored is not None and requested is not None and stored != requested:
                raise IndexStoreError(
                    f"index {self._dir} was built with {what} {stored!r}, not {requested!r}; "
                    f"use {what} {stored!r} or build a new index"
                )

    def _check_not_orphaned(self) -> None:
        """A directory with index files but no manifest lost it: refuse rather than start over
        (the next commit would otherwise delete those files as leftovers)."""
        if not self._dir.is_dir():
            return
        found = [
            p for folder in ("", SEGMENTS, TRANSCRIPTS) if (self._dir / folder).is_dir()
            for p in (self._dir / folder).iterdir()
            if is_index_file(f"{folder}/{p.name}" if folder else p.name)
        ]  # fmt: skip
        if found:
            raise IndexStoreError(
                f"{self._dir} holds {len(found)} index files but no {MANIFEST}: nothing was changed. "
                f"Run 'mediarag repair --index {self._dir}' to rebuild the manifest from them"
            )
