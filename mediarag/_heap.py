"""Keep freed large buffers from piling up in the C heap on long files.

glibc's malloc maps a large allocation from the OS and unmaps it when freed, but after the first
such free it raises that size threshold (up to 32 MB), so later buffers of a few MB come from
the heap, where freed ones stay resident between long-lived objects. Long files make such
buffers by the hundred (the speaker encoder's 30 s blocks, Whisper's batches): the speaker stage
of a 3-hour file held 1.3 GB more when it ended than when it began
(benchmarks/results/long-file.md). Fixing the threshold at 1 MiB, once per process, returns
each large buffer to the OS when it is freed. Nothing happens outside glibc, or when the
process's own ``MALLOC_MMAP_THRESHOLD_`` already sets it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

#: Allocations of at least this many bytes are mapped from the OS (and given back when freed).
MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


@functools.cache
def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD` (module docstring); whether it was set."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
