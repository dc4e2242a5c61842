"""Vector stores: chunks and their vectors, persisted and searchable by cosine similarity.

`open_store` opens the index at a location: a local directory (`FaissStore`) or an ``s3://``
prefix (`mediarag.store.s3.S3SyncedStore`, aws extra).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..links import is_s3_url
from .base import VectorStore
from .faiss import FaissStore

if TYPE_CHECKING:
    from ..aws.clients import AwsConfig

__all__ = ["FaissStore", "VectorStore", "index_exists", "open_store"]


def open_store(
    location: str | os.PathLike[str],
    *,
    embedder_name: str | None = None,
    index_type: str | None = None,
    aws: AwsConfig | None = None,
) -> VectorStore:
    """The index at ``location``, a directory or an ``s3://`` prefix (created on first commit)."""
    if is_s3_url(location):
        from .s3 import S3SyncedStore

        return S3SyncedStore(str(location), embedder_name=embedder_name, index_type=index_type, config=aws)
    return FaissStore(location, embedder_name=embedder_name, index_type=index_type)


def index_exists(location: str | os.PathLike[str], aws: AwsConfig | None = None) -> bool:
    """Whether a committed index is at ``location`` (a directory or an ``s3://`` prefix)."""
    if is_s3_url(location):
        from ..aws.s3 import S3
        from .s3 import S3SyncedStore

        return S3SyncedStore.exists(str(location), S3(aws))
    return FaissStore.exists(location)
