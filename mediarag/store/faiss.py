"""A `mediarag.store.base.VectorStore` kept in memory and persisted with FAISS.

On-disk layout of an index directory::

    manifest.json              {"format", "version", "generation", "index", "meta"}
    index-<gen>.faiss          FAISS index (IndexIDMap2 over IndexFlatIP or IndexHNSWFlat)
    meta-<gen>.json            settings, sources, chunks and their int64 FAISS ids
    transcripts/<sha256>.json  transcripts, content-addressed (sha256 of the JSON bytes)
    .lock                      held (flock) while a commit runs

Nothing is ever pickled. A commit writes a complete new generation (each file to a temporary
name, fsynced, then renamed), and only then atomically replaces ``manifest.json``; files of the
previous generation are deleted afterwards. A crash at any point therefore leaves the last
committed generation intact; leftovers of an unfinished generation are ignored on load and
removed by the next commit.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .._threads import one_thread
from ..errors import ConfigError, IndexStoreError
from ..schema import Chunk, Hit, SourceInfo, Transcript

try:  # POSIX only; on other platforms commits are not serialized between processes.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

IndexType = Literal["flat", "hnsw"]

FORMAT = "mediarag-faiss"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TRANSCRIPTS = "transcripts"
LOCK = ".lock"

#: Graph degree and build/search breadth of HNSW indexes.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64


class _Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["mediarag-faiss"]
    version: int
    generation: int = Field(ge=1)
    index: str | None
    meta: str


class _StoredSource(BaseModel):
    info: SourceInfo
    transcript: str = Field(pattern=r"^[0-9a-f]{64}$")
    ids: list[int]
    chunks: list[Chunk]


class _Meta(BaseModel):
    format: Literal["mediarag-faiss"]
    version: int
    generation: int
    dimension: int | None = Field(default=None, gt=0)
    embedder_name: str | None = None
    index_type: IndexType = "flat"
    next_id: int = Field(ge=0)
    sources: list[_StoredSource]


@dataclass
class _Entry:
    info: SourceInfo
    ids: np.ndarray  # int64 FAISS ids, aligned with ``chunks``
    chunks: list[Chunk]  # in time order
    transcript_sha: str
    transcript_json: bytes | None  # held until committed to transcripts/


class FaissStore:
    """Chunks, vectors and transcripts of many media files, searchable by cosine similarity.

    ``index_dir`` need not exist: a missing or empty directory is an empty store, created on
    the first `commit`. ``dimension`` and ``embedder_name`` must match what an existing
    index was built with (``None`` takes the index's values); the first added source fixes the
    dimension when it is not known. ``index_type`` is ``"flat"`` (exact) or ``"hnsw"``
    (approximate); ``None`` takes the index's type, ``"flat"`` for a new index.

    Raises:
        IndexStoreError: the directory holds an index that is unreadable, corrupt, or was
            built with other settings.
        ConfigError: an argument is invalid.
    """

    def __init__(
        self,
        index_dir: str | Path,
        dimension: int | None = None,
        embedder_name: str | None = None,
        index_type: str | None = None,
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
        self._entries: dict[str, _Entry] = {}
        self._by_id: dict[int, Chunk] = {}
        self._index: Any = None
        self._removed: list[np.ndarray] = []  # ids deleted but still in self._index
        self._next_id = 0
        self._generation: int | None = None
        self._changed = False
        self._load(index_type)
        if self._index is None and self._dimension is not None:
            self._index = _new_index(self._dimension, self._index_type)

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
    def has_changes(self) -> bool:
        """Whether there are changes not yet written by `commit`."""
        return self._changed

    def __len__(self) -> int:
        """Number of chunks in the store."""
        return len(self._by_id)

    # ----------------------------------------------------------------- reading

    def sources(self) -> dict[str, SourceInfo]:
        """Every file in the store, by source."""
        return {src: e.info.model_copy(deep=True) for src, e in self._entries.items()}

    def chunks(self, source: str) -> list[Chunk]:
        """The chunks of one file, in time order; IndexStoreError if it is not in the store."""
        return list(self._entry(source).chunks)

    def transcript(self, source: str) -> Transcript:
        """The transcript of one file; IndexStoreError if it is not in the store."""
        entry = self._entry(source)
        data = entry.transcript_json
        path = self._dir / TRANSCRIPTS / f"{entry.transcript_sha}.json"
        if data is None:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise IndexStoreError(f"{path}: cannot read transcript of {source}: {exc}") from exc
        try:
            return Transcript.model_validate_json(data)
        except ValidationError as exc:
            raise IndexStoreError(f"{path}: corrupt transcript of {source}: {exc}") from exc

    def vectors(self, source: str) -> np.ndarray:
        """The stored unit-length vectors of one file's chunks, in the order of `chunks`."""
        entry = self._entry(source)
        self._flush()
        if not len(entry.ids):
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        return np.vstack([self._index.reconstruct(int(i)) for i in entry.ids.tolist()]).astype(np.float32)

    def search(self, vector: np.ndarray, k: int = 4, min_score: float | None = None) -> list[Hit]:
        """The ``k`` chunks most similar to ``vector`` (shape ``(d,)`` or ``(1, d)``), best first.

        Scores are cosine similarities; hits below ``min_score`` are dropped.
        """
        query = np.asarray(vector, dtype=np.float32)
        if query.ndim == 2 and query.shape[0] != 1:
            raise ConfigError(f"search takes one vector, got shape {query.shape}; use search_many")
        return self.search_many(query.reshape(1, -1), k, min_score)[0]

    def search_many(
        self, vectors: np.ndarray, k: int = 4, min_score: float | None = None
    ) -> list[list[Hit]]:
        """`search` for each row of ``vectors`` (shape ``(n, d)``), in one batch."""
        queries = np.array(vectors, dtype=np.float32, copy=True, order="C")
        if queries.ndim == 1:
            queries = queries.reshape(1, -1)
        if queries.ndim != 2:
            raise ConfigError(f"query vectors must be 2-D, got shape {queries.shape}")
        self._flush()
        if self._index is None or self._index.ntotal == 0 or k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        if queries.shape[1] != self._dimension:
            raise ConfigError(
                f"query vectors have dimension {queries.shape[1]}, the index has {self._dimension}"
            )
        faiss.normalize_L2(queries)
        kk = min(int(k), int(self._index.ntotal))
        if self._index_type == "hnsw":
            faiss.downcast_index(self._index.index).hnsw.efSearch = max(HNSW_EF_SEARCH, kk)
        if len(queries) == 1:
            with one_thread():
                scores, ids = self._index.search(queries, kk)
        else:
            scores, ids = self._index.search(queries, kk)
        results: list[list[Hit]] = []
        for row_scores, row_ids in zip(scores.tolist(), ids.tolist()):
            hits = []
            for score, id_ in zip(row_scores, row_ids):
                if id_ < 0 or (min_score is not None and score < min_score):
                    continue
                hits.append(Hit(chunk=self._by_id[id_], score=score))
            results.append(hits)
        return results

    # ----------------------------------------------------------------- changes

    def add_source(
        self, info: SourceInfo, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        """Add one file's transcript, chunks and their vectors, replacing any earlier entry.

        ``vectors`` has shape ``(len(chunks), dimension)``; rows are normalized to unit length.
        """
        source = info.source
        chunks = list(chunks)
        vecs = np.asarray(vectors, dtype=np.float32)
        if chunks:
            dim = self._dimension or (vecs.shape[-1] if vecs.ndim else 0)
            if vecs.ndim != 2 or vecs.shape != (len(chunks), dim) or dim == 0:
                raise ConfigError(
                    f"vectors for {source} have shape {vecs.shape}, expected ({len(chunks)}, {dim})"
                )
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
        if chunks and self._index is None:
            self._dimension = int(vecs.shape[1])
            self._index = _new_index(self._dimension, self._index_type)
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].start, chunks[i].end))
        chunks = [chunks[i] for i in order]
        ids = np.arange(self._next_id, self._next_id + len(chunks), dtype=np.int64)
        if chunks:
            vecs = np.ascontiguousarray(np.take(vecs, order, axis=0))  # a copy, normalized
            faiss.normalize_L2(vecs)
            self._index.add_with_ids(vecs, ids)
        self._next_id += len(chunks)
        self._by_id.update(zip(ids.tolist(), chunks))
        data = transcript.model_dump_json().encode("utf-8")
        self._entries[source] = _Entry(
            info=info.model_copy(deep=True),
            ids=ids,
            chunks=chunks,
            transcript_sha=hashlib.sha256(data).hexdigest(),
            transcript_json=data,
        )
        self._changed = True

    def delete_source(self, source: str) -> int:
        """Remove a file and its chunks; return how many chunks were removed (0 if absent)."""
        entry = self._entries.pop(source, None)
        if entry is None:
            return 0
        for id_ in entry.ids.tolist():
            del self._by_id[id_]
        if len(entry.ids):
            self._removed.append(entry.ids)
        self._changed = True
        return len(entry.chunks)

    def commit(self) -> None:
        """Write all changes to the index directory, atomically.

        Raises:
            IndexStoreError: the directory cannot be written; what was committed before stays.
        """
        if not self._changed and self._generation is not None:
            return
        self._flush()
        tdir = self._dir / TRANSCRIPTS
        try:
            if not self._dir.exists():
                self._dir.mkdir(parents=True)
                _fsync_dir(self._dir.parent)
            tdir.mkdir(exist_ok=True)
            with self._lock():
                self._commit_locked(tdir)
        except (OSError, RuntimeError) as exc:  # faiss reports write errors as RuntimeError
            raise IndexStoreError(f"{self._dir}: cannot write index: {exc}") from exc

    # ----------------------------------------------------------------- internals

    def _entry(self, source: str) -> _Entry:
        try:
            return self._entries[source]
        except KeyError:
            raise IndexStoreError(f"{source} is not in the index {self._dir}") from None

    def _flush(self) -> None:
        """Take deleted ids out of the FAISS index (HNSW cannot remove, so it is rebuilt)."""
        if not self._removed:
            return
        removed = np.concatenate(self._removed)
        if self._index_type == "flat":
            self._index.remove_ids(removed)
        else:
            ids = faiss.vector_to_array(self._index.id_map)
            inner = faiss.downcast_index(self._index.index)
            keep = ~np.isin(ids, removed)
            rebuilt = _new_index(self._dimension, self._index_type)  # type: ignore[arg-type]
            if keep.any():
                vecs = inner.reconstruct_n(0, inner.ntotal)
                rebuilt.add_with_ids(np.ascontiguousarray(vecs[keep]), ids[keep])
            self._index = rebuilt
        self._removed.clear()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        if fcntl is None:  # pragma: no cover
            yield
            return
        with open(self._dir / LOCK, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _commit_locked(self, tdir: Path) -> None:
        on_disk = self._read_manifest(quiet=True)
        gen = max(on_disk.generation if on_disk else 0, self._generation or 0) + 1
        index_name = f"index-{gen}.faiss" if self._index is not None else None
        meta_name = f"meta-{gen}.json"
        written: list[Path] = []
        committed = False
        try:
            for entry in self._entries.values():
                path = tdir / f"{entry.transcript_sha}.json"
                if path.is_file():
                    continue
                if entry.transcript_json is None:
                    raise IndexStoreError(f"{path}: transcript of {entry.info.source} is missing")
                written.append(path)
                _write_atomic(path, entry.transcript_json)
            _fsync_dir(tdir)
            if index_name is not None:
                path = self._dir / index_name
                written.append(path)
                _write_atomic(path, lambda tmp: faiss.write_index(self._index, str(tmp)))
            written.append(self._dir / meta_name)
            _write_atomic(self._dir / meta_name, self._meta_json(gen))
            _fsync_dir(self._dir)
            manifest = _Manifest(
                format=FORMAT,
                version=FORMAT_VERSION,
                generation=gen,
                index=index_name,
                meta=meta_name,
            )
            _write_atomic(self._dir / MANIFEST, manifest.model_dump_json().encode("utf-8"))
            committed = True
            self._generation = gen
            self._changed = False
            for entry in self._entries.values():
                entry.transcript_json = None
            _fsync_dir(self._dir)
        finally:
            # Undo a failed (or interrupted) commit, unless the manifest already names it.
            current = None if committed else self._read_manifest(quiet=True)
            if not committed and (current is None or current.generation != gen):
                for path in written:
                    with contextlib.suppress(OSError):
                        path.unlink()
        keep = {MANIFEST, LOCK, TRANSCRIPTS, meta_name, index_name}
        for path in self._dir.iterdir():
            if path.name not in keep and (
                path.name.endswith(".tmp") or path.name.startswith(("index-", "meta-"))
            ):
                with contextlib.suppress(OSError):
                    path.unlink()
        referenced = {f"{e.transcript_sha}.json" for e in self._entries.values()}
        for path in tdir.iterdir():
            if path.name not in referenced:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _meta_json(self, gen: int) -> bytes:
        meta = _Meta.model_construct(
            format=FORMAT,
            version=FORMAT_VERSION,
            generation=gen,
            dimension=self._dimension,
            embedder_name=self._embedder_name,
            index_type=self._index_type,
            next_id=self._next_id,
            sources=[
                _StoredSource.model_construct(
                    info=e.info, transcript=e.transcript_sha, ids=e.ids.tolist(), chunks=e.chunks
                )
                for e in self._entries.values()
            ],
        )
        return meta.model_dump_json().encode("utf-8")

    def _read_manifest(self, quiet: bool = False) -> _Manifest | None:
        path = self._dir / MANIFEST
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if quiet:
                return None
            raise IndexStoreError(f"{path}: cannot read index manifest: {exc}") from exc
        try:
            manifest = _Manifest.model_validate_json(data)
        except ValidationError as exc:
            if quiet:
                return None
            raise IndexStoreError(f"{path}: corrupt index manifest: {exc}") from exc
        if manifest.version > FORMAT_VERSION and not quiet:
            raise IndexStoreError(
                f"{path}: index format version {manifest.version} is newer than this mediarag "
                f"supports ({FORMAT_VERSION})"
            )
        for name in (manifest.index, manifest.meta):
            if name is not None and (Path(name).name != name or name in (".", "..")):
                if quiet:
                    return None
                raise IndexStoreError(f"{path}: corrupt index manifest: bad file name {name!r}")
        return manifest

    def _load(self, requested_type: str | None) -> None:
        if self._dir.exists() and not self._dir.is_dir():
            raise IndexStoreError(f"{self._dir}: index path exists and is not a directory")
        for _ in range(3):
            manifest = self._read_manifest()
            if manifest is None:
                return
            try:
                self._load_generation(manifest, requested_type)
                return
            except FileNotFoundError as exc:
                # A concurrent commit may have replaced this generation; retry with the new one.
                again = self._read_manifest()
                if again is None or again.generation == manifest.generation:
                    raise IndexStoreError(f"{exc.filename}: index file is missing") from exc
        raise IndexStoreError(f"{self._dir}: index keeps changing while it is being read")

    def _load_generation(self, manifest: _Manifest, requested_type: str | None) -> None:
        meta_path = self._dir / manifest.meta
        try:
            meta = _Meta.model_validate_json(meta_path.read_bytes())
        except FileNotFoundError:
            raise
        except (OSError, ValidationError) as exc:
            raise IndexStoreError(f"{meta_path}: corrupt or unreadable metadata: {exc}") from exc
        if meta.version > FORMAT_VERSION:
            raise IndexStoreError(f"{meta_path}: unsupported index format version {meta.version}")

        self._check_setting("dimension", meta.dimension, self._dimension)
        self._check_setting("embedder", meta.embedder_name, self._embedder_name)
        self._check_setting("index type", meta.index_type, requested_type)

        index = None
        if manifest.index is not None:
            index_path = self._dir / manifest.index
            if not index_path.is_file():
                raise FileNotFoundError(2, "missing", str(index_path))
            try:
                index = faiss.read_index(str(index_path))
            except RuntimeError as exc:
                raise IndexStoreError(f"{index_path}: corrupt or unreadable index: {exc}") from exc
            _check_index(index, index_path, meta)

        entries: dict[str, _Entry] = {}
        by_id: dict[int, Chunk] = {}
        for stored in meta.sources:
            source = stored.info.source
            bad = source in entries or len(stored.ids) != len(stored.chunks)
            bad = bad or any(c.source != source for c in stored.chunks)
            if bad:
                raise IndexStoreError(f"{meta_path}: corrupt index metadata for {source}")
            ids = np.asarray(stored.ids, dtype=np.int64)
            by_id.update(zip(stored.ids, stored.chunks))
            entries[source] = _Entry(stored.info, ids, stored.chunks, stored.transcript, None)
        all_ids = np.fromiter(by_id, dtype=np.int64, count=len(by_id))
        index_ids = (
            faiss.vector_to_array(index.id_map) if index is not None else np.empty(0, np.int64)
        )
        if (
            len(all_ids) != sum(len(e.ids) for e in entries.values())
            or (len(all_ids) and (all_ids.min() < 0 or all_ids.max() >= meta.next_id))
            or not np.array_equal(np.sort(all_ids), np.sort(index_ids))
        ):
            raise IndexStoreError(
                f"{meta_path}: index metadata does not match the FAISS index {manifest.index}"
            )

        self._dimension = meta.dimension if meta.dimension is not None else self._dimension
        self._embedder_name = meta.embedder_name or self._embedder_name
        self._index_type = meta.index_type
        self._entries = entries
        self._by_id = by_id
        self._index = index
        self._next_id = meta.next_id
        self._generation = manifest.generation

    def _check_setting(self, what: str, stored: object, requested: object) -> None:
        if stored is not None and requested is not None and stored != requested:
            raise IndexStoreError(
                f"index {self._dir} was built with {what} {stored!r}, not {requested!r}; "
                f"use {what} {stored!r} or build a new index"
            )


def _new_index(dimension: int, index_type: str) -> Any:
    if index_type == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dimension)
    return faiss.IndexIDMap2(inner)


def _check_index(index: Any, path: Path, meta: _Meta) -> None:
    expected = faiss.IndexHNSWFlat if meta.index_type == "hnsw" else faiss.IndexFlatIP
    ok = isinstance(index, faiss.IndexIDMap2) and index.d == meta.dimension
    ok = ok and isinstance(faiss.downcast_index(index.index), expected)
    if not ok or index.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise IndexStoreError(
            f"{path}: FAISS index does not match its metadata "
            f"(expected {meta.index_type}, inner product, dimension {meta.dimension})"
        )


def _write_atomic(path: Path, data: bytes | Callable[[Path], object]) -> None:
    """Write ``path`` via a fsynced temporary file and a rename; ``data`` is bytes or a writer."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if isinstance(data, bytes):
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        else:
            data(tmp)
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
