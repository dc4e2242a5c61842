"""An index kept at an ``s3://`` location, worked on through a local copy.

`S3SyncedStore` is a `mediarag.store.base.VectorStore` that wraps a `FaissStore` over a
local working directory. Opening it copies the committed generation down from S3 (the files the
remote ``manifest.json`` names, and the transcripts its metadata references; generation files
are never rewritten under the same name, so files already there are not fetched again).
`commit` commits locally, then uploads, in this order: the transcripts and segment files (vectors,
metadata, keyword data) the bucket lacks (a commit adds one segment; merges now and then add a larger one), and
``manifest.json`` last. A reader therefore sees either the
old generation or the new one whole; a failure before the manifest leaves the old one in place
(no partial index), and the stray files are deleted by the next commit. One writer at a time:
a commit refuses to replace a generation it has not read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..aws.clients import AwsConfig
from ..aws.s3 import S3, S3Url
from ..errors import IndexStoreError
from ..schema import Chunk, Hit, SourceInfo, Transcript
from ..weights import cache_dir
from .faiss import FaissStore
from .keywords import FuzzyMatch
from .layout import (
    MANIFEST,
    SEGMENTS,
    TRANSCRIPTS,
    LegacyManifest,
    Manifest,
    generation_files,
    is_index_file,
    metadata_files,
    parse_manifest,
)


def default_working_dir(url: str) -> Path:
    """The local copy of an S3 index: ``$MEDIARAG_CACHE/s3-index/<bucket>/<prefix hash>``."""
    target = S3Url.parse(url)
    digest = hashlib.sha256(str(target).rstrip("/").encode()).hexdigest()[:16]
    return cache_dir() / "s3-index" / target.bucket / digest


class S3SyncedStore:
    """A `FaissStore` whose committed state lives under an ``s3://`` prefix.

    Args:
        url: the index's location, ``s3://bucket/prefix``.
        working_dir: the local copy; default `default_working_dir`.
        dimension: as for `FaissStore`.
        embedder_name: as for `FaissStore`.
        index_type: as for `FaissStore`.
        config: region, credentials and retries; or ``s3``: a ready `mediarag.aws.s3.S3`.

    Raises:
        IndexStoreError: the remote index is unreadable, or was changed by another writer.
        ServiceError: S3 refused a request (names the ``s3://`` URL).
    """

    def __init__(
        self,
        url: str,
        working_dir: str | Path | None = None,
        *,
        dimension: int | None = None,
        embedder_name: str | None = None,
        index_type: str | None = None,
        config: AwsConfig | None = None,
        s3: S3 | None = None,
    ) -> None:
        self.url = S3Url.parse(url)
        self.s3 = s3 or S3(config)
        self.working_dir = Path(working_dir) if working_dir is not None else default_working_dir(url)
        self._remote_generation = self._pull()
        self._store = FaissStore(self.working_dir, dimension, embedder_name, index_type)

    @classmethod
    def exists(cls, url: str, s3: S3 | None = None) -> bool:
        """Whether a committed index is at ``url``."""
        return (s3 or S3()).exists(str(S3Url.parse(url).child(MANIFEST)))

    @property
    def local(self) -> FaissStore:
        """The local `FaissStore` this store works on."""
        return self._store

    # VectorStore, by delegation ----------------------------------------------------------------

    def add_source(
        self, info: SourceInfo, transcript: Transcript, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> None:
        self._store.add_source(info, transcript, chunks, vectors)

    def delete_source(self, source: str) -> int:
        return self._store.delete_source(source)

    def search(self, vector: np.ndarray, k: int = 4, min_score: float | None = None) -> list[Hit]:
        return self._store.search(vector, k, min_score)

    def search_many(self, vectors: np.ndarray, k: int = 4, min_score: float | None = None) -> list[list[Hit]]:
        return self._store.search_many(vectors, k, min_score)

    def keyword_search(self, query: str, k: int = 4, *, fuzzy: FuzzyMatch | None = None) -> list[Hit]:
        return self._store.keyword_search(query, k, fuzzy=fuzzy)

    def sources(self) -> dict[str, SourceInfo]:
        return self._store.sources()

    def chunks(self, source: str) -> list[Chunk]:
        return self._store.chunks(source)

    def transcript(self, source: str) -> Transcript:
        return self._store.transcript(source)

    def has_transcript(self, source: str) -> bool:
        return self._store.has_transcript(source)

    def vectors(self, source: str) -> np.ndarray:
        return self._store.vectors(source)

    def rollback(self) -> None:
        self._store.rollback()

    def refresh(self) -> bool:
        """Take in the generation committed at the S3 location since this copy was made."""
        remote = self._remote_manifest()
        if remote is None or remote.generation == self._remote_generation:
            return False
        self._remote_generation = self._pull()
        return self._store.refresh()

    def __len__(self) -> int:
        return len(self._store)

    def __getattr__(self, name: str) -> Any:  # dimension, embedder_name, index_type, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._store, name)

    # Sync ---------------------------------------------------------------------------------------

    def commit(self) -> None:
        """Commit locally, then publish the new generation to S3 (manifest last)."""
        if not self._store.has_changes and self._remote_generation is not None:
            return
        remote = self._remote_manifest()
        if (remote.generation if remote else None) != self._remote_generation:
            raise IndexStoreError(
                f"{self.url}: the index was changed by another writer since it was opened "
                f"(generation {self._remote_generation} -> {remote.generation if remote else None}); "
                "open it again and redo the changes"
            )
        self._store.commit()
        manifest = self._local_manifest()
        names = generation_files(self.working_dir, manifest)
        # Transcripts and segments are never rewritten under the same name: upload what is new.
        present = set(self.s3.keys(self.url.child(TRANSCRIPTS + "/")))
        present |= set(self.s3.keys(self.url.child(SEGMENTS + "/")))
        for name in names:
            if self.url.child(name).key not in present:
                self.s3.upload(self.working_dir / name, str(self.url.child(name)))
        self.s3.put(
            str(self.url.child(MANIFEST)), (self.working_dir / MANIFEST).read_bytes(), "application/json"
        )
        self._remote_generation = manifest.generation
        self._delete_unreferenced(set(names) | {MANIFEST})

    def _delete_unreferenced(self, keep: set[str]) -> None:
        prefix = self.url.child("").key
        stale = []
        for key in self.s3.keys(self.url.child("")):
            name = key[len(prefix) :]
            if is_index_file(name) and name not in keep:
                stale.append(str(S3Url(self.url.bucket, key)))
        if stale:
            self.s3.delete(stale)

    def _remote_manifest(self) -> Manifest | LegacyManifest | None:
        url = str(self.url.child(MANIFEST))
        data = self.s3.get_if_exists(url)
        return None if data is None else parse_manifest(data, url)

    def _local_manifest(self) -> Manifest | LegacyManifest:
        path = self.working_dir / MANIFEST
        return parse_manifest(path.read_bytes(), str(path))

    def _pull(self) -> int | None:
        """Make the working copy the remote's committed generation; return that generation."""
        remote = self._remote_manifest()
        directory = self.working_dir
        if remote is None:
            # A copy of an index that is gone: start empty (the next commit removes the rest).
            (directory / MANIFEST).unlink(missing_ok=True)
            return None
        for folder in (TRANSCRIPTS, SEGMENTS):
            (directory / folder).mkdir(parents=True, exist_ok=True)
        for name in metadata_files(remote):  # they say which other files the generation needs
            self._fetch(name)
        for name in generation_files(directory, remote):
            self._fetch(name)
        (directory / MANIFEST).write_bytes(remote.model_dump_json().encode("utf-8"))
        return remote.generation

    def _fetch(self, name: str) -> None:
        """Download one index file unless the working copy has it (they never change)."""
        if not (self.working_dir / name).is_file():
            self.s3.download(str(self.url.child(name)), self.working_dir / name)

