"""Writing files so that a crash never leaves half of one, and one writer at a time.

Every file mediarag keeps (index generations, joined model weights, converted checkpoints,
uploads, downloads) is written to a temporary name beside its target, flushed to disk, and then
renamed over the target: a reader sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

try:  # POSIX only; elsewhere locks are advisory no-ops
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


def temporary_name(path: Path) -> Path:
    """A hidden name beside ``path`` for writing it (unique to this process)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """An open binary file that replaces ``path`` when the block ends without an error.

    The data is fsynced before the rename; on an error (or an interrupt) the temporary file is
    removed and ``path`` is untouched.
    """
    target = Path(path)
    tmp = temporary_name(target)
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_atomic(path: str | os.PathLike[str], data: bytes | Callable[[Path], object]) -> None:
    """Write ``path`` whole or not at all: ``data`` is the bytes, or a function that writes the
    file at the temporary path it is given (e.g. ``faiss.write_index``)."""
    target = Path(path)
    if isinstance(data, (bytes, bytearray, memoryview)):
        with atomic_output(target) as handle:
            handle.write(data)
        return
    tmp = temporary_name(target)
    try:
        data(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A new empty directory that takes the place of ``path`` when the block ends without an
    error (a directory already at ``path`` is replaced); removed on an error."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private
    try:
        yield tmp
        if target.exists():
            trash = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (new names, renames) durable."""
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


class LockTimeout(OSError):
    """Another process held a lock for longer than the caller would wait."""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], *, timeout: float | None = None, poll: float = 0.05) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed) across processes.

    Waits for another holder up to ``timeout`` seconds (``None``: as long as it takes), then
    raises `LockTimeout`. The holder's process id is written into the file, for messages.
    The lock goes with the process: a killed holder never leaves it taken.
    """
    handle = open(path, "a+")
    try:
        if fcntl is not None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                if deadline is not None and time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise LockTimeout(errno.EAGAIN, f"locked by process {holder} for over {timeout:g} s", str(path))
                time.sleep(poll)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()
