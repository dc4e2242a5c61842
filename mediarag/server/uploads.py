"""Multipart uploads read as they arrive: each file is checked (extension, size) while it
streams in, then stored by `mediarag.app.uploads.store_upload` under a generated name.

A client's file name is only ever shown back or reduced to a safe stem: it never becomes a
path. A file over the limit is refused as soon as its bytes pass the limit, naming the file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from ..app.uploads import LIBRARY_EXTENSIONS, store_upload
from ..errors import MediaError, MediaRagError
from .errors import TooLarge


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    size: int = 0
    handle: IO[bytes] | None = None
    headers: dict[bytes, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredUpload:
    """One uploaded file: the name the client gave and where it is stored."""

    name: str
    path: Path


def client_name(filename: str) -> str:
    """The last part of a client's file name (no folders), for messages and display."""
    return PurePosixPath(filename.replace("\\", "/")).name.strip() or "upload"


def check_extension(filename: str, extensions: frozenset[str] = LIBRARY_EXTENSIONS) -> None:
    """`MediaError` naming the file when its extension is not one of ``extensions``."""
    name = client_name(filename)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in extensions:
        accepted = ", ".join(sorted(extensions))
        raise MediaError(name, f"files of type {suffix or '(no extension)'} are not accepted; accepted: {accepted}")


class UploadReceiver:
    """Parses one ``multipart/form-data`` body into files stored in ``folder``.

    Every part with a file name is a file to store (any field name); other fields are ignored.
    Raises `mediarag.MediaError` (bad type, empty) or `TooLarge` (over ``max_bytes``, or more than
    ``max_files``) naming the file; then nothing is left in ``folder``.
    """

    def __init__(self, folder: Path, *, max_bytes: int, max_files: int, extensions: frozenset[str] = LIBRARY_EXTENSIONS) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.extensions = extensions
        self._incoming = folder / ".incoming"
        self._part = _Part()
        self._field = b""
        self._value = b""
        self._received: list[tuple[str, Path]] = []

    async def receive(self, content_type: str, chunks: AsyncIterator[bytes]) -> list[StoredUpload]:
        """Read the body from ``chunks`` and store its files; returns them in order."""
        from python_multipart.multipart import MultipartParser, parse_options_header

        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise MediaRagError("the upload is not multipart/form-data with a boundary")
        self._incoming.mkdir(parents=True, exist_ok=True)
        parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._data,
                "on_part_end": self._end,
            },  # type: ignore[arg-type]
        )
        try:
            async for chunk in chunks:
                parser.write(chunk)
            parser.finalize()
            if not self._received:
                raise MediaRagError("the upload holds no file (send each file as a form field with a file name)")
            import anyio.to_thread

            return await anyio.to_thread.run_sync(self._store)  # copying is slow: off the event loop
        finally:
            self._close_part()
            for _, temporary in self._received:
                with contextlib.suppress(OSError):
                    temporary.unlink()

    # Parser callbacks ------------------------------------------------------------------------

    def _begin(self) -> None:
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._part.headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_done(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._part.headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if filename is None:
            return  # a plain form field: ignored
        name = client_name(filename.decode("utf-8", errors="replace"))
        if len(self._received) >= self.max_files:
            raise TooLarge(f"{name}: one upload takes at most {self.max_files} files")
        check_extension(name, self.extensions)
        self._part.filename = name
        self._part.handle = tempfile.NamedTemporaryFile(dir=self._incoming, prefix="part-", delete=False)  # noqa: SIM115

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part.handle is None:
            return
        part.size += end - start
        if part.size > self.max_bytes:
            raise TooLarge(f"{part.filename}: larger than the upload limit of {self.max_bytes / (1 << 20):g} MB")
        part.handle.write(data[start:end])

    def _end(self) -> None:
        part = self._part
        if part.handle is not None and part.filename is not None:
            part.handle.close()
            self._received.append((part.filename, Path(part.handle.name)))
            part.handle = None

    # Storing ---------------------------------------------------------------------------------

    def _store(self) -> list[StoredUpload]:
        stored: list[StoredUpload] = []
        try:
            for name, temporary in self._received:
                with open(temporary, "rb") as data:
                    path = store_upload(self.folder, name, data, max_bytes=self.max_bytes, extensions=self.extensions)
                stored.append(StoredUpload(name, path))
        except Exception:
            for upload in stored:
                with contextlib.suppress(OSError):
                    os.unlink(upload.path)
            raise
        return stored

    def _close_part(self) -> None:
        handle = self._part.handle
        if handle is not None:
            handle.close()
            with contextlib.suppress(OSError):
                os.unlink(handle.name)
            self._part.handle = None
