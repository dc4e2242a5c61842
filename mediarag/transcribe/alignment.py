"""Word times from Whisper's cross-attention: the alignment heads' weights over the audio
frames, aligned to the tokens by dynamic time warping (DTW), as openai/whisper does.

`alignment_costs` turns a batch's weights into cost matrices and `dtw` aligns them at once, one
anti-diagonal at a time, so its Python loop runs ``rows + columns`` times for the whole batch
rather than ``rows x columns`` times per matrix; both run with torch on the weights' device (a
GPU on the GPU path), and the paths are walked back for all items at once.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """The cheapest monotonic paths through ``costs`` ``(batch, rows, columns)`` (a torch tensor,
    whose device does the work, or a numpy array): for item ``b`` through its top-left
    ``rows[b] x columns[b]`` block. Returns, per item, the row and column index of each step of
    its path (openai/whisper's ``dtw``: moves down, right or diagonal, ties going right)."""
    if isinstance(costs, np.ndarray):
        import torch

        costs = torch.from_numpy(costs)
    return _backtrace(_trace(costs), rows, columns)


def _trace(costs):  # type: ignore[no-untyped-def]
    """DTW's moves (0 diagonal, 1 down, 2 right) into each cell, on the tensor's device: one
    anti-diagonal per step for the whole batch (every cell of an anti-diagonal depends only on
    the two before it)."""
    import torch

    batch, n, m = costs.shape
    device = costs.device
    acc = torch.full((batch, n + 1, m + 1), float("inf"), dtype=torch.float32, device=device)
    trace = torch.full((batch, n + 1, m + 1), -1, dtype=torch.int8, device=device)
    acc[:, 0, 0] = 0.0
    steps = torch.arange(1, n + 1, device=device)
    for d in range(2, n + m + 1):
        low, high = max(1, d - m), min(n, d - 1)
        if low > high:
            continue
        i = steps[low - 1 : high]
        j = d - i
        c0, c1, c2 = acc[:, i - 1, j - 1], acc[:, i - 1, j], acc[:, i, j - 1]
        t = torch.where((c0 < c1) & (c0 < c2), 0, torch.where((c1 < c0) & (c1 < c2), 1, 2))
        best = torch.where(t == 0, c0, torch.where(t == 1, c1, c2))
        acc[:, i, j] = costs[:, i - 1, j - 1] + best
        trace[:, i, j] = t.to(torch.int8)
    return trace.cpu().numpy()


def _backtrace(trace: np.ndarray, rows: Sequence[int], columns: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each item's path, walked back from its block's corner, all items a step at a time."""
    batch = trace.shape[0]
    items = np.arange(batch)
    i = np.asarray(rows, dtype=np.int64).copy()
    j = np.asarray(columns, dtype=np.int64).copy()
    texts, times, actives = [], [], []
    active = (i > 0) | (j > 0)
    while active.any():
        texts.append(i - 1)
        times.append(j - 1)
        actives.append(active)
        move = np.where(j == 0, 1, np.where(i == 0, 2, trace[items, i, j]))
        i = np.where(active & (move != 2), i - 1, i)
        j = np.where(active & (move != 1), j - 1, j)
        active = (i > 0) | (j > 0)
    if not actives:
        return [(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(batch)]
    text, time, alive = np.stack(texts), np.stack(times), np.stack(actives)
    return [(text[alive[:, b], b][::-1].copy(), time[alive[:, b], b][::-1].copy()) for b in range(batch)]


def token_start_times(path: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Seconds at which each row (token) of an aligned matrix starts: the first frame its path
    reaches."""
    text, time = path
    jumps = np.pad(np.diff(text), (1, 0), constant_values=1).astype(bool)
    return time[jumps] / FRAMES_PER_SECOND
