"""Merging several indexes into one (e.g. the shards a SageMaker Processing job wrote)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import IndexStoreError


def merge_stores(target: Any, shards: Iterable[Any]) -> list[str]:
    """Add every file of each shard to ``target`` and commit once; return the sources added.

    ``target`` is a `FaissStore` or `mediarag.store.s3.S3SyncedStore`; each shard must offer
    ``sources``, ``chunks``, ``transcript`` and ``vectors`` (a `FaissStore` does). All must have
    been built with the same embedder. A file found in two shards with the same content is
    taken once; with different content it is an error. Nothing is committed when a shard
    fails, so the target never holds part of a merge.

    Raises:
        IndexStoreError: shards built with different embedders or dimensions, or a conflict.
    """
    embedder = getattr(target, "embedder_name", None)
    dimension = getattr(target, "dimension", None)
    added: dict[str, str] = {}
    for shard in shards:
        where = getattr(shard, "index_dir", shard)
        if not len(shard.sources()):
            continue
        for what, mine, theirs in (
            ("embedder", embedder, shard.embedder_name),
            ("dimension", dimension, shard.dimension),
        ):
            if mine is not None and theirs is not None and mine != theirs:
                raise IndexStoreError(f"{where}: built with {what} {theirs!r}, the merged index has {mine!r}")
        embedder = embedder or shard.embedder_name
        dimension = dimension or shard.dimension
        for source, info in shard.sources().items():
            if source in added:
                if added[source] == info.sha256:
                    continue
                raise IndexStoreError(f"{where}: {source} is also in another shard, with other content")
            target.add_source(info, shard.transcript(source), shard.chunks(source), shard.vectors(source))
            added[source] = info.sha256
    target.commit()
    return list(added)
