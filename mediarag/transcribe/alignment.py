"""Word times from Whisper's cross-attention: the alignment heads' weights over the audio
frames, aligned to the tokens by dynamic time warping (DTW), as openai/whisper does.

`alignment_costs` turns a batch's weights into cost matrices with torch, on the weights' device
(a GPU on the GPU path); `dtw` aligns them on the CPU with a compiled loop (numba, released
from the GIL, the batch's matrices spread over threads): a DTW step depends on the one before
it, so on a GPU it is a kernel launch per anti-diagonal, which measured slower than the CPU.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: Audio frames per second of the encoder's output (Whisper: 50, 20 ms each).
FRAMES_PER_SECOND = 50
#: Width of the median filter smoothing the weights along the frames.
MEDIAN_WIDTH = 7


def alignment_costs(weights, blocks: Sequence[tuple[int, int, int]]):  # type: ignore[no-untyped-def]
    """The matrices DTW takes, for a batch of alignment-head weights ``(batch, heads, tokens,
    frames)`` (torch, computed on their device): item ``b`` takes the block of ``blocks[b] =
    (first row, rows, frames)``, each head standardized over those tokens, smoothed by a median
    filter along the frames (edges reflected), heads averaged. Returns DTW's costs (the negated
    matrices) ``(batch, max rows, max frames)``, a float32 tensor, zero outside each block."""
    import torch

    rows = max(n for _, n, _ in blocks)
    frames = max(f for _, _, f in blocks)
    costs = torch.zeros((len(blocks), rows, frames), dtype=torch.float32, device=weights.device)
    pad = MEDIAN_WIDTH // 2
    for b, (first, n, f) in enumerate(blocks):
        w = weights[b, :, first : first + n, :f].float()
        w = (w - w.mean(dim=-2, keepdim=True)) / w.std(dim=-2, keepdim=True, unbiased=False).clamp_min(1e-6)
        if f > pad:
            w = torch.nn.functional.pad(w, (pad, pad), mode="reflect").unfold(-1, MEDIAN_WIDTH, 1).median(dim=-1).values
        costs[b, :n, :f] = -w.mean(dim=0)
    return costs


def dtw(costs, rows: Sequence[int], columns: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:  # type: ignore[no-untyped-def]
    """The cheapest monotonic paths through ``costs`` ``(batch, rows, columns)`` (a torch tensor
    on any device, or a numpy array): for item ``b`` through its top-left ``rows[b] x
    columns[b]`` block. Returns, per item, the row and column index of each step of its path
    (openai/whisper's ``dtw``: moves down, right or diagonal, ties going right)."""
    if not isinstance(costs, np.ndarray):
        costs = costs.detach().float().cpu().numpy()
    costs = np.ascontiguousarray(costs, dtype=np.float32)
    sizes = np.stack([np.asarray(rows, dtype=np.int64), np.asarray(columns, dtype=np.int64)], axis=1)
    batch = costs.shape[0]
    if batch == 0:
        return []
    paths = np.zeros((batch, 2, int((sizes[:, 0] + sizes[:, 1]).max())), dtype=np.int64)
    lengths = np.zeros(batch, dtype=np.int64)
    walk = _compiled()
    threads = max(1, min(batch, os.cpu_count() or 1, DTW_THREADS))
    if threads == 1:
        walk(costs, sizes, paths, lengths, 0, batch)
    else:
        bounds = np.linspace(0, batch, threads + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda k: walk(costs, sizes, paths, lengths, bounds[k], bounds[k + 1]), range(threads)))
    return [(paths[b, 0, : lengths[b]].copy(), paths[b, 1, : lengths[b]].copy()) for b in range(batch)]


#: Threads that share a batch's DTW (each matrix is one thread's work).
DTW_THREADS = 8


def _walk(costs, sizes, paths, lengths, first, stop):  # type: ignore[no-untyped-def]
    """DTW over items ``first..stop-1``: accumulated costs row by row, then the path
    walked back from the block's corner into ``paths[b]`` (rows, then columns), its length in
    ``lengths[b]``. Compiled by numba (`_compiled`); plain Python if it ran as it is."""
    for b in range(first, stop):
        n, m = sizes[b, 0], sizes[b, 1]
        acc = np.full((n + 1, m + 1), np.inf, dtype=np.float32)
        trace = np.zeros((n + 1, m + 1), dtype=np.int8)
        acc[0, 0] = 0.0
        for i in range(1, n + 1):  # row by row: the inner loop reads memory in order
            for j in range(1, m + 1):
                c0, c1, c2 = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
                if c0 < c1 and c0 < c2:
                    best, move = c0, 0
                elif c1 < c0 and c1 < c2:
                    best, move = c1, 1
                else:
                    best, move = c2, 2
                acc[i, j] = costs[b, i - 1, j - 1] + best
                trace[i, j] = move
        i, j, k = n, m, 0
        while i > 0 or j > 0:
            paths[b, 0, k] = i - 1
            paths[b, 1, k] = j - 1
            k += 1
            move = 1 if j == 0 else (2 if i == 0 else trace[i, j])
            if move != 2:
                i -= 1
            if move != 1:
                j -= 1
        paths[b, 0, :k] = paths[b, 0, :k][::-1].copy()
        paths[b, 1, :k] = paths[b, 1, :k][::-1].copy()
        lengths[b] = k


_COMPILED = None
_COMPILING = threading.Lock()


def _compiled():  # type: ignore[no-untyped-def]
    """`_walk` compiled by numba once per process (cached on disk), without the GIL."""
    global _COMPILED
    with _COMPILING:
        if _COMPILED is not None:
            return _COMPILED
        try:
            import numba
        except ImportError as exc:
            from ..errors import MissingDependencyError

            raise MissingDependencyError(
                "word times on the transformers path need numba: pip install 'mediarag[transformers]'"
            ) from exc
        _COMPILED = numba.njit(nogil=True, cache=True)(_walk)
        return _COMPILED


def token_start_times(path: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Seconds at which each row (token) of an aligned matrix starts: the first frame its path
    reaches."""
    text, time = path
    jumps = np.pad(np.diff(text), (1, 0), constant_values=1).astype(bool)
    return time[jumps] / FRAMES_PER_SECOND
