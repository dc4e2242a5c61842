"""The on-disk layout of an index directory, shared by the local and the S3 stores.

Format version 2 (mediarag 0.2)::

    manifest.json                  the committed generation: its segments and what each lost
    segments/seg-<gen>[-n].faiss   vectors of one segment (FAISS IndexFlatIP or IndexHNSWFlat)
    segments/seg-<gen>[-n].json    that segment's files: their info, passages and transcript id
    segments/seg-<gen>[-n].terms.npz  that segment's keyword data: each passage's analyzed terms
    transcripts/<sha256>.json      transcripts, content-addressed (sha256 of the JSON bytes)
    .lock                          held by the one process committing

A commit adds one segment holding the files it added, and records in the manifest which files
older segments no longer serve (replaced or removed): nothing already written is rewritten,
except when segments are merged (`plan_merges`). Segment and transcript files are never
changed once written, so a reader sees the generation its manifest names, whole.

The keyword data (`mediarag.store.terms`) came after format 2 was first released and is optional:
a segment's metadata says whether it has some (``keywords``, the version of the analysis). A
segment without it is searched by keyword from its passages' text, analyzed in memory, and is
rewritten with it by the next commit (`plan_merges` ``must``); older releases ignore the file.

Format version 1 (mediarag 0.1: ``manifest.json`` naming one ``index-<gen>.faiss`` and one
``meta-<gen>.json``) still opens; the first commit rewrites it as version 2.
Nothing is ever pickled: metadata is JSON, vectors are FAISS's own format.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import IndexStoreError
from ..schema import Chunk, SourceInfo

FORMAT = "mediarag-faiss"
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
TRANSCRIPTS = "transcripts"
SEGMENTS = "segments"
LOCK = ".lock"
TERMS_SUFFIX = ".terms.npz"

IndexType = Literal["flat", "hnsw"]

#: Segments of about the same size that are merged into one once there are this many.
MERGE_FACTOR = 8
#: A segment whose passages are mostly replaced or removed is rewritten.
MAX_DEAD_FRACTION = 0.5

_SEGMENT_NAME = re.compile(r"seg-\d{8}(?:-\d{1,4})?")
_TRANSCRIPT_NAME = re.compile(r"[0-9a-f]{64}\.json")
_LEGACY_NAME = re.compile(r"(?:index-\d+\.faiss|meta-\d+\.json)")


class SegmentRef(BaseModel):
    """A segment as the manifest lists it: its name, size, and the files it no longer serves."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=_SEGMENT_NAME.pattern)
    chunks: int = Field(ge=0)
    deleted: list[str] = Field(default_factory=list)


class Manifest(BaseModel):
    """``manifest.json`` of format version 2."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["mediarag-faiss"] = FORMAT
    version: int = FORMAT_VERSION
    generation: int = Field(ge=1)
    dimension: int | None = Field(default=None, gt=0)
    embedder_name: str | None = None
    index_type: IndexType = "flat"
    segments: list[SegmentRef] = Field(default_factory=list)


class StoredSource(BaseModel):
    """One file inside a segment: its info, its transcript's id and its passages, whose vectors
    follow each other in the segment's FAISS index."""

    info: SourceInfo
    transcript: str = Field(pattern=r"^[0-9a-f]{64}$")
    chunks: list[Chunk]


class SegmentMeta(BaseModel):
    """``segments/<name>.json``."""

    format: Literal["mediarag-faiss-segment"] = "mediarag-faiss-segment"
    version: int = FORMAT_VERSION
    name: str
    dimension: int | None = Field(default=None, gt=0)
    embedder_name: str | None = None
    index_type: IndexType = "flat"
    sources: list[StoredSource]
    keywords: int | None = Field(
        default=None, description="Analysis version of the segment's terms file; None: it has none."
    )


class LegacyManifest(BaseModel):
    """``manifest.json`` of format version 1."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["mediarag-faiss"]
    version: Literal[1]
    generation: int = Field(ge=1)
    index: str | None
    meta: str


class LegacySource(BaseModel):
    info: SourceInfo
    transcript: str = Field(pattern=r"^[0-9a-f]{64}$")
    ids: list[int]
    chunks: list[Chunk]


class LegacyMeta(BaseModel):
    """``meta-<gen>.json`` of format version 1: chunks with their FAISS ids."""

    format: Literal["mediarag-faiss"]
    version: int
    generation: int
    dimension: int | None = Field(default=None, gt=0)
    embedder_name: str | None = None
    index_type: IndexType = "flat"
    next_id: int = Field(ge=0)
    sources: list[LegacySource]


# Names ------------------------------------------------------------------------------------------


def segment_name(generation: int, part: int | None = None) -> str:
    """The name of a segment written by the commit of ``generation`` (``part``: a merge)."""
    return f"seg-{generation:08d}" + (f"-{part}" if part is not None else "")


def segment_files(name: str) -> tuple[str, str]:
    """The vectors and metadata files of a segment, relative to the index directory."""
    return f"{SEGMENTS}/{name}.faiss", f"{SEGMENTS}/{name}.json"


def terms_file(name: str) -> str:
    """The keyword data of a segment, relative to the index directory."""
    return f"{SEGMENTS}/{name}{TERMS_SUFFIX}"


def transcript_file(sha: str) -> str:
    """A transcript's file, relative to the index directory."""
    return f"{TRANSCRIPTS}/{sha}.json"


def is_index_file(name: str) -> bool:
    """Whether a path relative to the index directory is one a commit writes (and may delete)."""
    folder, _, base = name.rpartition("/")
    if folder == SEGMENTS:
        if base.endswith(TERMS_SUFFIX):
            return bool(_SEGMENT_NAME.fullmatch(base[: -len(TERMS_SUFFIX)]))
        stem, dot, suffix = base.rpartition(".")
        return bool(dot) and suffix in ("faiss", "json") and bool(_SEGMENT_NAME.fullmatch(stem))
    if folder == TRANSCRIPTS:
        return bool(_TRANSCRIPT_NAME.fullmatch(base))
    return folder == "" and bool(_LEGACY_NAME.fullmatch(base))


# Reading ---------------------------------------------------------------------------------------


def parse_manifest(data: bytes, where: str) -> Manifest | LegacyManifest:
    """A manifest of either version; `IndexStoreError` naming ``where`` when it is unusable."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexStoreError(f"{where}: corrupt index manifest: {exc}") from exc
    version = raw.get("version") if isinstance(raw, dict) else None
    if isinstance(version, int) and version > FORMAT_VERSION:
        raise IndexStoreError(
            f"{where}: index format version {version} is newer than this mediarag supports "
            f"({FORMAT_VERSION}); upgrade mediarag"
        )
    try:
        manifest: Manifest | LegacyManifest = (
            LegacyManifest.model_validate(raw) if version == 1 else Manifest.model_validate(raw)
        )
    except ValidationError as exc:
        raise IndexStoreError(f"{where}: corrupt index manifest: {exc}") from exc
    if isinstance(manifest, LegacyManifest):
        for name in (manifest.index, manifest.meta):
            if name is not None and not _LEGACY_NAME.fullmatch(name):
                raise IndexStoreError(f"{where}: corrupt index manifest: bad file name {name!r}")
    return manifest


def read_segment_meta(path: Path) -> SegmentMeta:
    """A segment's metadata file; FileNotFoundError when it is gone, else `IndexStoreError`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise IndexStoreError(f"{path}: cannot read segment metadata: {exc}") from exc
    try:
        return SegmentMeta.model_validate_json(data)
    except ValidationError as exc:
        raise IndexStoreError(f"{path}: corrupt segment metadata: {exc}") from exc


def live_sources(meta: SegmentMeta, deleted: Iterable[str]) -> list[StoredSource]:
    """The files a segment still serves."""
    gone = set(deleted)
    return [s for s in meta.sources if s.info.source not in gone]


def generation_files(directory: Path, manifest: Manifest | LegacyManifest) -> list[str]:
    """Every file (relative to ``directory``) a generation needs besides its manifest: the
    transcripts of the files it serves, then its vectors and metadata (which must be present in
    ``directory`` to be read)."""
    transcripts: set[str] = set()
    files: list[str] = []
    if isinstance(manifest, LegacyManifest):
        meta = LegacyMeta.model_validate_json((directory / manifest.meta).read_bytes())
        transcripts.update(transcript_file(s.transcript) for s in meta.sources)
        files = [n for n in (manifest.index, manifest.meta) if n is not None]
    else:
        for ref in manifest.segments:
            vectors, meta_name = segment_files(ref.name)
            segment = read_segment_meta(directory / meta_name)
            transcripts.update(transcript_file(s.transcript) for s in live_sources(segment, ref.deleted))
            files += [vectors, meta_name] + ([terms_file(ref.name)] if segment.keywords is not None else [])
    return sorted(transcripts) + files


def metadata_files(manifest: Manifest | LegacyManifest) -> list[str]:
    """The files of a generation that say which other files it needs (segment metadata)."""
    if isinstance(manifest, LegacyManifest):
        return [manifest.meta]
    return [segment_files(ref.name)[1] for ref in manifest.segments]


# Merging ---------------------------------------------------------------------------------------


def plan_merges(sizes: Sequence[tuple[int, int]], must: Sequence[bool] = ()) -> list[list[int]]:
    """Which segments to merge: groups of indices into ``sizes`` (``(live, total)`` passages).

    Segments are grouped by the order of magnitude of their live size (in powers of
    `MERGE_FACTOR`); a level holding `MERGE_FACTOR` segments is merged into one, so each passage
    is rewritten about log(n) times over the life of an index and a commit usually writes only
    its own files. A segment that is mostly dead, or marked in ``must``, is rewritten too.
    """
    levels: dict[int, list[int]] = {}
    for i, (live, _total) in enumerate(sizes):
        levels.setdefault(int(math.log(max(live, 1), MERGE_FACTOR)), []).append(i)
    groups = [members for _, members in sorted(levels.items()) if len(members) >= MERGE_FACTOR]
    grouped = {i for g in groups for i in g}
    for i, (live, total) in enumerate(sizes):
        forced = i < len(must) and must[i]
        if i not in grouped and (forced or (total and (total - live) / total > MAX_DEAD_FRACTION)):
            groups.append([i])
    return groups
