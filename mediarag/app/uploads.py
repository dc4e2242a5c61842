"""Files a user uploads to the app: checked, then stored under a generated name.

A stored file's name is ``<12 random hex digits>_<the original name reduced to letters, digits,
dot, dash and underscore>``: nothing in an uploaded name can reach outside the folder or choose
which file is overwritten, and the reduced name is what the app shows (`display_name`).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from ..errors import MediaError
from ..files import atomic_output
from ..links import TEXT_EXTENSIONS
from ..media import MEDIA_EXTENSIONS

#: What a conversation accepts: audio, video and text documents.
CONVERSATION_EXTENSIONS = frozenset(MEDIA_EXTENSIONS | TEXT_EXTENSIONS)
#: What the library (the index) accepts: audio and video.
LIBRARY_EXTENSIONS = frozenset(MEDIA_EXTENSIONS)

_PREFIX = re.compile(r"^[0-9a-f]{12}_")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 1 << 20


def display_name(source: str) -> str:
    """The name to show for a stored upload (its generated prefix removed) or any other source."""
    name = PurePosixPath(source.replace("\\", "/")).name
    return _PREFIX.sub("", name)


def store_upload(
    folder: str | os.PathLike[str],
    name: str,
    data: bytes | BinaryIO,
    *,
    max_bytes: int,
    extensions: frozenset[str] = CONVERSATION_EXTENSIONS,
) -> Path:
    """Write one upload into ``folder`` under a generated name and return its path.

    Raises `mediarag.MediaError` naming the upload when its extension is not in ``extensions``,
    when it is empty, or when it is larger than ``max_bytes``; nothing is left behind then. The
    file appears under its final name only once it is complete.
    """
    original = PurePosixPath(name.replace("\\", "/")).name.strip() or "upload"
    stem, dot, extension = original.rpartition(".")
    suffix = f".{extension.lower()}" if dot else ""
    if suffix not in extensions:
        accepted = ", ".join(sorted(extensions))
        raise MediaError(original, f"files of type {suffix or '(no extension)'} are not accepted; accepted: {accepted}")
    stem = _UNSAFE.sub("_", stem).strip("._-")[:60] or "upload"
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"{secrets.token_hex(6)}_{stem}{suffix}"
    size = 0
    with atomic_output(target) as out:  # a partial or refused upload leaves nothing behind
        for piece in _pieces(data):
            size += len(piece)
            if size > max_bytes:
                raise MediaError(original, f"larger than the upload limit of {_megabytes(max_bytes)}")
            out.write(piece)
        if size == 0:
            raise MediaError(original, "the file is empty")
    return target


def _pieces(data: bytes | BinaryIO):  # type: ignore[no-untyped-def]
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for start in range(0, len(view), _CHUNK):
            yield bytes(view[start : start + _CHUNK])
        return
    if hasattr(data, "seek"):
        data.seek(0)
    while piece := data.read(_CHUNK):
        yield piece


def _megabytes(n: int) -> str:
    return f"{n / (1 << 20):g} MB"
