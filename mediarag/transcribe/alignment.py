"""Word times from Whisper's cross-attention: the alignment heads' weights over the audio
frames, aligned to the tokens by dynamic time warping (DTW), as openai/whisper does.

`dtw` aligns a batch of cost matrices at once, one anti-diagonal at a time (every cell of an
anti-diagonal depends only on the two before it), so its Python loop runs ``rows + columns``
times for the whole batch rather than ``rows x columns`` times per matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Audio frames per second of the encoder's output (Whisper: 50, 20 ms each).
FRAMES_PER_SECOND = 50
#: Width of the median filter smoothing the weights along the frames.
MEDIAN_WIDTH = 7


def normalize_weights(weights: np.ndarray) -> np.ndarray:
    """Alignment-head weights ``(heads, tokens, frames)`` as the matrix DTW takes: each head
    standardized over the tokens, smoothed by a median filter along the frames, heads averaged."""
    std = weights.std(axis=-2, keepdims=True)
    mean = weights.mean(axis=-2, keepdims=True)
    weights = (weights - mean) / np.maximum(std, 1e-6)
    return median_filter(weights, MEDIAN_WIDTH).mean(axis=0)


def median_filter(x: np.ndarray, width: int) -> np.ndarray:
    """Median over a sliding window of odd ``width`` along the last axis (edges reflected)."""
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width, axis=-1)
    return np.median(windows, axis=-1)


def dtw(costs: np.ndarray, rows: Sequence[int], columns: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The cheapest monotonic paths through ``costs`` ``(batch, rows, columns)``: for item ``b``
    through its top-left ``rows[b] x columns[b]`` block. Returns, per item, the row and column
    index of each step of its path (openai/whisper's ``dtw``: moves down, right or diagonal,
    ties going right)."""
    batch, n, m = costs.shape
    acc = np.full((batch, n + 1, m + 1), np.inf, dtype=np.float32)
    trace = np.full((batch, n + 1, m + 1), -1, dtype=np.int8)
    acc[:, 0, 0] = 0.0
    for d in range(2, n + m + 1):  # cells (i, j) with i + j = d, 1 <= i <= n, 1 <= j <= m
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        if i.size == 0:
            continue
        j = d - i
        c0 = acc[:, i - 1, j - 1]
        c1 = acc[:, i - 1, j]
        c2 = acc[:, i, j - 1]
        t = np.where((c0 < c1) & (c0 < c2), 0, np.where((c1 < c0) & (c1 < c2), 1, 2)).astype(np.int8)
        best = np.where(t == 0, c0, np.where(t == 1, c1, c2))
        acc[:, i, j] = costs[:, i - 1, j - 1] + best
        trace[:, i, j] = t
    paths = []
    for b in range(batch):
        paths.append(_backtrace(trace[b], rows[b], columns[b]))
    return paths


def _backtrace(trace: np.ndarray, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    text: list[int] = []
    time: list[int] = []
    while i > 0 or j > 0:
        text.append(i - 1)
        time.append(j - 1)
        move = 1 if j == 0 else 2 if i == 0 else trace[i, j]
        if move == 0:
            i, j = i - 1, j - 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
    return np.array(text[::-1]), np.array(time[::-1])


def token_start_times(path: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Seconds at which each row (token) of an aligned matrix starts: the first frame its path
    reaches."""
    text, time = path
    jumps = np.pad(np.diff(text), (1, 0), constant_values=1).astype(bool)
    return time[jumps] / FRAMES_PER_SECOND
