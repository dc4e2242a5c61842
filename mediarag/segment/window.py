"""Fixed time windows, plus the helpers every segmenter uses to build passages from sentences."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import ConfigError
from ..schema import Segment

# Scripts written without spaces between words: Han, kana, bopomofo, CJK punctuation and
# full-width forms. Hangul is left out on purpose: Korean separates words with spaces.
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3200-\u9fff"
    "\uf900-\ufaff\uff00-\uff9f\U00020000-\U0003134f]"
)


def is_cjk(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words."""
    return bool(_CJK.match(char))


def joiner(left: str, right: str) -> str:
    """The separator between two stripped, non-empty texts: none next to CJK, else one space."""
    return "" if is_cjk(left[-1]) or is_cjk(right[0]) else " "


def join_with_offsets(texts: Iterable[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join stripped texts as :func:`join_texts` does and return each text's ``(start, end)``.

    An empty (or blank) text gets an empty span at the position where it would have been.
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    last = ""
    for raw in texts:
        text = raw.strip()
        if text and last:
            sep = joiner(last, text)
            parts.append(sep)
            length += len(sep)
        spans.append((length, length + len(text)))
        if text:
            parts.append(text)
            length += len(text)
            last = text
    return "".join(parts), spans


def join_texts(texts: Iterable[str]) -> str:
    """Join texts with one space, or with nothing where either side of the join is CJK."""
    return join_with_offsets(texts)[0]


def majority_language(sentences: Iterable[Segment]) -> str | None:
    """The most common language among ``sentences`` (the first seen on a tie), else ``None``."""
    counts = Counter(s.language for s in sentences if s.language)
    return counts.most_common(1)[0][0] if counts else None


def joined_original(sentences: Sequence[Segment]) -> str | None:
    """Joined ``original_text`` if any sentence has one (others give their ``text``), else None."""
    if not any(s.original_text is not None for s in sentences):
        return None
    return join_texts(s.original_text if s.original_text is not None else s.text for s in sentences)


def merge_sentences(sentences: Sequence[Segment]) -> Segment:
    """One passage from consecutive sentences: their span, joined text, majority language."""
    if not sentences:
        raise ValueError("cannot merge an empty list of sentences")
    return Segment(
        start=min(s.start for s in sentences),
        end=max(s.end for s in sentences),
        text=join_texts(s.text for s in sentences),
        language=majority_language(sentences),
        original_text=joined_original(sentences),
    )


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
        return [merge_sentences([sentences[i] for i in g]) for g in self.split_indices(sentences)]

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
