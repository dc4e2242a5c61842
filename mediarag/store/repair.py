"""Rebuilding a lost or corrupt ``manifest.json`` from the index files that are still there."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import IndexStoreError
from ..files import exclusive_lock, fsync_dir, write_atomic
from .faiss import LOCK_TIMEOUT, FaissStore
from .layout import (
    LOCK,
    MANIFEST,
    SEGMENTS,
    LegacyManifest,
    LegacyMeta,
    Manifest,
    SegmentMeta,
    SegmentRef,
    read_segment_meta,
)


def repair_index(index_dir: str | Path) -> str:
    """Write a new manifest for an index directory whose ``manifest.json`` is missing or
    unreadable, from its segment files; return what was done, for the user.

    Every complete segment is taken back; a file found in several segments is served by the
    newest. Files removed since the segments were last merged may therefore come back: the
    message says how many files the index now lists. An index whose manifest is sound is left
    alone. Raises `IndexStoreError` when nothing usable is there.
    """
    directory = Path(index_dir)
    if not directory.is_dir():
        raise IndexStoreError(f"{directory}: no such index directory")
    with exclusive_lock(directory / LOCK, timeout=LOCK_TIMEOUT):
        if (directory / MANIFEST).is_file():
            try:
                store = FaissStore(directory)
            except IndexStoreError:
                pass  # an unreadable manifest: rebuilt below
            else:
                return f"{directory}: the index is sound ({len(store.sources())} files); nothing to repair"
        manifest = _from_segments(directory) or _from_legacy(directory)
        if manifest is None:
            raise IndexStoreError(f"{directory}: no complete index files to rebuild the manifest from")
        write_atomic(directory / MANIFEST, manifest.model_dump_json().encode("utf-8"))
        fsync_dir(directory)
    store = FaissStore(directory)
    missing = [s for s in store.sources() if not store.has_transcript(s)]
    note = f"; {len(missing)} transcripts are missing (ingest those files again)" if missing else ""
    return (
        f"{directory}: rebuilt {MANIFEST} (generation {manifest.generation}): {len(store.sources())} files, "
        f"{len(store)} passages{note}. Files removed since the last merge may have come back: check "
        "'mediarag sources'"
    )


def _from_segments(directory: Path) -> Manifest | None:
    metas: list[SegmentMeta] = []
    for path in sorted((directory / SEGMENTS).glob("seg-*.json")):
        try:
            meta = read_segment_meta(path)
        except (OSError, IndexStoreError):
            continue
        if meta.name == path.stem and path.with_suffix(".faiss").is_file():
            metas.append(meta)
    if not metas:
        return None
    newest: dict[str, str] = {}
    for meta in metas:  # by name: later generations (and their merges) last
        for stored in meta.sources:
            newest[stored.info.source] = meta.name
    refs = [
        SegmentRef(
            name=meta.name,
            chunks=sum(len(s.chunks) for s in meta.sources),
            deleted=[s.info.source for s in meta.sources if newest[s.info.source] != meta.name],
        )
        for meta in metas
    ]
    generation = max(int(meta.name.split("-")[1]) for meta in metas) + 1
    last = metas[-1]
    return Manifest(
        generation=generation,
        dimension=last.dimension,
        embedder_name=last.embedder_name,
        index_type=last.index_type,
        segments=refs,
    )


def _from_legacy(directory: Path) -> LegacyManifest | None:
    generations = sorted(
        (int(m.group(1)) for p in directory.glob("meta-*.json") if (m := re.fullmatch(r"meta-(\d+)\.json", p.name))),
        reverse=True,
    )
    for gen in generations:
        try:
            meta = LegacyMeta.model_validate_json((directory / f"meta-{gen}.json").read_bytes())
        except (OSError, ValueError):
            continue
        index: str | None = f"index-{gen}.faiss"
        if not (directory / index).is_file():  # type: ignore[operator]
            if meta.sources:
                continue  # incomplete: an older generation may be whole
            index = None
        return LegacyManifest(format="mediarag-faiss", version=1, generation=gen, index=index, meta=f"meta-{gen}.json")
    return None
