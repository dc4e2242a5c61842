"""Run small, latency-bound work on one thread.

A single query is too little work to share between threads; with 2 threads on a busy machine,
OpenMP threads wait on each other and one query embedding or FAISS search took 10-30x longer
than on one thread (benchmarks/results/speed.md). Batches keep every thread.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def one_thread() -> Iterator[None]:
    """Limit torch and FAISS (whichever is loaded) to one thread inside the block."""
    restore = []
    torch = sys.modules.get("torch")
    # Another thread may be importing torch right now: its half-built module is left alone.
    if torch is not None and hasattr(torch, "get_num_threads") and hasattr(torch, "set_num_threads"):
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        restore.append(lambda: torch.set_num_threads(before))
    faiss = sys.modules.get("faiss")
    if faiss is not None and hasattr(faiss, "omp_get_max_threads") and hasattr(faiss, "omp_set_num_threads"):
        before_omp = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        restore.append(lambda: faiss.omp_set_num_threads(before_omp))
    try:
        yield
    finally:
        for undo in restore:
            undo()
