"""Fixed time windows: the simplest segmenter, a baseline for the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from ..schema import Segment
from ._passages import passage_from


class FixedWindowSegmenter:
    """Groups sentences into fixed-length time windows.

    Windows start at 0 s and every ``window - overlap`` seconds after: ``[0, window)``,
    ``[window - overlap, 2 * window - overlap)``, ... A window's passage holds the sentences whose
    time span overlaps the window; with ``overlap == 0`` each sentence goes to the one window
    that holds its start time, so every sentence is in exactly one passage. Empty windows are
    skipped, and so is a window whose sentences all belong to a neighbouring window's passage.
    A passage spans its sentences, so it may reach beyond its window.

    Args:
        window: Length of each window in seconds (> 0).
        overlap: Seconds shared by consecutive windows (``0 <= overlap < window``).
    """

    def __init__(self, window: float = 30.0, overlap: float = 5.0) -> None:
        if not (math.isfinite(window) and window > 0):
            raise ConfigError(f"window must be a positive number of seconds, got {window!r}")
        if not (math.isfinite(overlap) and 0 <= overlap < window):
            raise ConfigError(f"overlap must be >= 0 and < window ({window!r}), got {overlap!r}")
        self.window = float(window)
        self.overlap = float(overlap)

    @property
    def step(self) -> float:
        """Seconds between the starts of consecutive windows."""
        return self.window - self.overlap

    def warm_up(self) -> None:
        """Nothing to load."""

    def split(self, sentences: Sequence[Segment]) -> list[Segment]:
        return [passage_from([sentences[i] for i in g]) for g in self.split_indices(sentences)]

    def split_indices(self, sentences: Sequence[Segment]) -> list[list[int]]:
        """The sentence indices of each passage, in order."""
        if not sentences:
            return []
        starts = np.array([s.start for s in sentences], dtype=np.float64)
        ends = np.maximum(np.array([s.end for s in sentences], dtype=np.float64), starts)
        if self.overlap == 0:
            keys = np.floor(starts / self.window).astype(np.int64)
            order = np.argsort(keys, kind="stable")
            bounds = np.flatnonzero(np.diff(keys[order])) + 1
            return [g.tolist() for g in np.split(order, bounds)]
        # Window k = [k*step, k*step + window) holds sentence [a, b] when a < k*step + window and
        # (b > k*step or a >= k*step). Estimate each sentence's range of k, then fix rounding.
        step, win = self.step, self.window
        k_lo = np.maximum(np.floor((starts - win) / step).astype(np.int64), 0)
        k_hi = np.maximum(np.ceil(ends / step), np.floor(starts / step)).astype(np.int64)
        groups: dict[int, list[int]] = {}
        for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
            for k in range(int(k_lo[i]), int(k_hi[i]) + 1):
                w = k * step
                if a < w + win and (b > w or a >= w):
                    groups.setdefault(k, []).append(i)
        passages: list[list[int]] = []
        for k in sorted(groups):
            group = set(groups[k])
            if passages and group <= set(passages[-1]):
                continue
            while passages and set(passages[-1]) < group:
                passages.pop()
            passages.append(groups[k])
        return passages
