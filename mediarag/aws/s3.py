"""S3 for media sources and outputs: ``s3://bucket/key`` URLs, listing, download and upload.

Every failure raises `mediarag.errors.ServiceError` naming the ``s3://`` URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError, ServiceError
from ..files import write_atomic
from ..links import is_s3_url
from ..media import is_media_file
from .clients import AwsConfig, make_client, service_errors


@dataclass(frozen=True)
class S3Url:
    """A bucket and a key (or key prefix)."""

    bucket: str
    key: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Url:
        parts = urlsplit(url)
        if parts.scheme.lower() != "s3" or not parts.netloc:
            raise ConfigError(f"not an s3://bucket/key URL: {url!r}")
        return cls(parts.netloc, parts.path.lstrip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, name: str) -> S3Url:
        """The URL of ``name`` under this one taken as a folder."""
        base = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Url(self.bucket, base + name.lstrip("/"))


class S3:
    """A few S3 operations with errors that name the object.

    Args:
        config: region, credentials and retries.
        client: a ready ``s3`` client, instead of one made from ``config``.
    """

    def __init__(self, config: AwsConfig | None = None, client: Any = None) -> None:
        self.config = config or AwsConfig()
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = make_client("s3", self.config)
        return self._client

    def keys(self, prefix: str | S3Url) -> list[str]:
        """All keys under a prefix, sorted."""
        url = prefix if isinstance(prefix, S3Url) else S3Url.parse(prefix)
        keys: list[str] = []
        with service_errors(str(url)):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=url.bucket, Prefix=url.key)
            for page in pages:
                keys += [item["Key"] for item in page.get("Contents", ())]
        return sorted(keys)

    def media_urls(self, url: str) -> list[str]:
        """The media objects a URL names: the object itself, or the media files under a prefix."""
        target = S3Url.parse(url)
        if target.key and not target.key.endswith("/") and self.exists(url):
            return [url]
        folder = target if not target.key or target.key.endswith("/") else S3Url(target.bucket, target.key + "/")
        found = [str(S3Url(target.bucket, k)) for k in self.keys(folder) if is_media_file(PurePosixPath(k))]
        if not found:
            raise ServiceError(url, "not_found", "no media objects at this URL")
        return found

    def exists(self, url: str) -> bool:
        target = S3Url.parse(url)
        from botocore.exceptions import ClientError

        with service_errors(url):  # an unreachable endpoint too, not only error answers
            try:
                self.client.head_object(Bucket=target.bucket, Key=target.key)
            except ClientError as exc:
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status == 404 or exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return True

    def download(self, url: str, path: str | os.PathLike[str]) -> Path:
        """Copy an object to a local file (written whole, then renamed into place)."""
        target, path = S3Url.parse(url), Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with service_errors(url):
            write_atomic(path, lambda tmp: self.client.download_file(target.bucket, target.key, str(tmp)))
        return path

    @contextlib.contextmanager
    def downloaded(self, url: str) -> Iterator[Path]:
        """A temporary local copy of an object, removed on exit; it keeps the object's name."""
        with tempfile.TemporaryDirectory(prefix="mediarag-s3-") as tmp:
            yield self.download(url, Path(tmp) / (PurePosixPath(S3Url.parse(url).key).name or "object"))

    def upload(self, path: str | os.PathLike[str], url: str) -> None:
        target = S3Url.parse(url)
        with service_errors(url):
            self.client.upload_file(str(path), target.bucket, target.key)

    def put(self, url: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        target = S3Url.parse(url)
        with service_errors(url):
            self.client.put_object(Bucket=target.bucket, Key=target.key, Body=data, ContentType=content_type)

    def get(self, url: str) -> bytes:
        target = S3Url.parse(url)
        with service_errors(url):
            return self.client.get_object(Bucket=target.bucket, Key=target.key)["Body"].read()

    def get_if_exists(self, url: str) -> bytes | None:
        """An object's bytes, or ``None`` when there is no such object."""
        try:
            return self.get(url)
        except ServiceError as exc:
            if exc.reason == "not_found":
                return None
            raise

    def delete(self, urls: Sequence[str]) -> None:
        """Delete objects (of one bucket per call of S3's batch API)."""
        by_bucket: dict[str, list[str]] = {}
        for url in urls:
            target = S3Url.parse(url)
            by_bucket.setdefault(target.bucket, []).append(target.key)
        for bucket, keys in by_bucket.items():
            for first in range(0, len(keys), 1000):
                batch = [{"Key": k} for k in keys[first : first + 1000]]
                with service_errors(f"s3://{bucket}"):
                    self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})


def output_names(source: str, sha256: str) -> tuple[str, str]:
    """Object names of a file's transcript and passages: ``<name>-<sha12>.transcript.json`` and
    ``<name>-<sha12>.passages.json``."""
    stem = PurePosixPath(urlsplit(source).path if is_s3_url(source) else source).name or "media"
    base = f"{stem}-{sha256[:12]}"
    return f"{base}.transcript.json", f"{base}.passages.json"


def write_outputs(s3: S3, prefix: str, transcript: Any, chunks: Sequence[Any], sha256: str) -> list[str]:
    """Write one file's transcript (a `Transcript` as JSON) and passages (a JSON list of
    `Chunk`) under an ``s3://`` prefix; return the two URLs."""
    base = S3Url.parse(prefix)
    transcript_name, passages_name = output_names(transcript.source, sha256)
    urls = [str(base.child(transcript_name)), str(base.child(passages_name))]
    s3.put(urls[0], transcript.model_dump_json().encode("utf-8"), "application/json")
    passages = json.dumps([c.model_dump(mode="json") for c in chunks], ensure_ascii=False)
    s3.put(urls[1], passages.encode("utf-8"), "application/json")
    return urls
