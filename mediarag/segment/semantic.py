"""Topic segmentation at the minima of a weighted cosine similarity between nearby sentences.

The algorithm follows the AWS "video QA" sample: embed every sentence, take the cosine
similarity matrix, score each sentence by a weighted sum of its similarities to the sentences
after it (weights fall off along a reversed sigmoid), and start a new passage at each local
minimum of that score. Length limits are then enforced on top.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.signal import argrelextrema

from ..embed.base import Embedder
from ..errors import ConfigError
from ..schema import Segment
from ..sentences import join_texts
from ._passages import passage_from


def activation_weights(p: int) -> np.ndarray:
    """``p`` weights along a reversed sigmoid, ``1 / (1 + exp(0.5 x))`` for x in [-10, 10]."""
    return 1.0 / (1.0 + np.exp(0.5 * np.linspace(-10.0, 10.0, p)))


def activate_similarities(similarities: np.ndarray, p_size: int = 10) -> np.ndarray:
    """Weighted sum of the first ``min(p_size, n)`` diagonals of an ``n x n`` similarity matrix.

    ``activated[i] = sum_d w[d] * S[i, i + d]``, with terms past the end of the matrix taken as 0.
    """
    n = similarities.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    p = min(p_size, n)
    weights = activation_weights(p)
    rows = np.arange(n)[:, None]
    cols = rows + np.arange(p)[None, :]
    inside = cols < n
    diagonals = np.where(inside, similarities[rows, np.minimum(cols, n - 1)], 0.0)
    return diagonals @ weights


def activate_vectors(units: np.ndarray, p_size: int = 10) -> np.ndarray:
    """`activate_similarities` of ``units @ units.T``, without building the n x n matrix."""
    n = units.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    weights = activation_weights(min(p_size, n))
    scores = np.zeros(n, dtype=np.float64)
    for d, weight in enumerate(weights):
        scores[: n - d] += weight * np.einsum("ij,ij->i", units[: n - d], units[d:])
    return scores


def speaker_changes(sentences: Sequence[Segment]) -> list[int]:
    """Indices of the sentences whose known speaker differs from the previous sentence's."""
    return [
        i for i in range(1, len(sentences))
        if sentences[i].speaker and sentences[i - 1].speaker and sentences[i].speaker != sentences[i - 1].speaker
    ]  # fmt: skip


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


class CosineMinimaSegmenter:
    """Splits a transcript into passages where the topic changes.

    Each sentence is scored by a weighted sum of its cosine similarity to itself and the next
    ``p_size - 1`` sentences (weights along a reversed sigmoid); a new passage starts at every
    local minimum of that score, found with ``scipy.signal.argrelextrema(..., order=order)``.

    Limits are then enforced. A passage longer than ``max_duration`` seconds or ``max_chars``
    characters is cut again before its interior sentence with the lowest score, until it fits
    or is a single sentence. A passage shorter than ``min_duration`` or ``min_chars`` is merged
    into the neighbouring passage whose mean sentence vector is more similar, provided the
    merged passage stays within the maximum limits (the maximum limits win over the minimum).

    Args:
        embedder: Embeds the sentences; defaults to ``SentenceTransformerEmbedder()``
            (all-MiniLM-L6-v2), created on first use.
        p_size: How many sentences (the sentence itself included) each score looks at (>= 1).
        order: A minimum must be lower than the ``order`` scores on each side of it (>= 1).
        min_duration: Seconds below which a passage is merged into a neighbour.
        max_duration: Seconds above which a passage of several sentences is cut.
        min_chars: Characters below which a passage is merged into a neighbour.
        max_chars: Characters above which a passage of several sentences is cut.
        split_below: Also start a new passage wherever two consecutive sentences have a cosine
            similarity below this value (unrelated neighbours, which the smoothed minima can
            miss when several topic changes come close together); ``None`` turns it off.
        split_on_speaker: Also start a new passage where the speaker changes (two consecutive
            sentences with different known speakers), so that a passage is one speaker's; the
            length limits still apply.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        p_size: int = 10,
        order: int = 5,
        min_duration: float = 0.0,
        max_duration: float = 120.0,
        min_chars: int = 0,
        max_chars: int = 2000,
        split_below: float | None = None,
        split_on_speaker: bool = True,
    ) -> None:
        if p_size < 1:
            raise ConfigError(f"p_size must be >= 1, got {p_size!r}")
        if order < 1:
            raise ConfigError(f"order must be >= 1, got {order!r}")
        if math.isnan(min_duration) or min_duration < 0:
            raise ConfigError(f"min_duration must be >= 0, got {min_duration!r}")
        if math.isnan(max_duration) or max_duration < min_duration:
            raise ConfigError(
                f"max_duration must be >= min_duration ({min_duration!r}), got {max_duration!r}"
            )
        if min_chars < 0:
            raise ConfigError(f"min_chars must be >= 0, got {min_chars!r}")
        if max_chars < min_chars:
            raise ConfigError(f"max_chars must be >= min_chars ({min_chars!r}), got {max_chars!r}")
        self._embedder = embedder
        self.p_size = int(p_size)
        self.order = int(order)
        self.min_duration = float(min_duration)
        self.max_duration = float(max_duration)
        self.min_chars = min_chars
        self.max_chars = max_chars
        self.split_below = split_below
        self.split_on_speaker = split_on_speaker

    @property
    def embedder(self) -> Embedder:
        """The sentence embedder (the default one is created here on first use)."""
        if self._embedder is None:
            from ..embed.sentence_transformers import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder()
        return self._embedder

    def warm_up(self) -> None:
        """Load the embedding model."""
        self.embedder.warm_up()

    def split(
        self, sentences: Sequence[Segment], vectors: np.ndarray | None = None
    ) -> list[Segment]:
        """Group ``sentences`` into passages.

        ``vectors`` are the sentences' embeddings, one row each, when the caller already has them.
        """
        groups = self.split_indices(sentences, vectors)
        return [passage_from([sentences[i] for i in group]) for group in groups]

    def split_indices(
        self, sentences: Sequence[Segment], vectors: np.ndarray | None = None
    ) -> list[list[int]]:
        """The sentence indices of each passage: consecutive runs covering ``0..n-1`` in order."""
        n = len(sentences)
        if n == 0:
            return []
        units = _unit_rows(self._vectors(sentences, vectors))
        scores = activate_vectors(units, self.p_size)
        cuts = set(argrelextrema(scores, np.less, order=self.order)[0].tolist())
        if self.split_below is not None and n > 1:
            neighbours = np.einsum("ij,ij->i", units[:-1], units[1:])
            cuts.update((np.nonzero(neighbours < self.split_below)[0] + 1).tolist())
        if self.split_on_speaker:
            cuts.update(speaker_changes(sentences))
        bounds = [0, *sorted(c for c in cuts if 0 < c < n), n]
        runs = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
        limits = _Limits(self, sentences, units)
        runs = [piece for lo, hi in runs for piece in limits.cut(lo, hi, scores)]
        runs = limits.merge_short(runs)
        return [list(range(lo, hi)) for lo, hi in runs]

    def similarity_scores(
        self, sentences: Sequence[Segment], vectors: np.ndarray | None = None
    ) -> np.ndarray:
        """Each sentence's activated similarity score (low scores mark topic changes)."""
        if not sentences:
            return np.zeros(0, dtype=np.float64)
        return activate_vectors(_unit_rows(self._vectors(sentences, vectors)), self.p_size)

    def _vectors(self, sentences: Sequence[Segment], vectors: np.ndarray | None) -> np.ndarray:
        if vectors is None:
            vectors = self.embedder.embed_passages([s.text for s in sentences])
        array = np.asarray(vectors, dtype=np.float64)
        if array.ndim != 2 or array.shape[0] != len(sentences):
            raise ConfigError(
                f"vectors must have one row per sentence ({len(sentences)}), "
                f"got shape {array.shape}"
            )
        return array


class _Limits:
    """Length limits over runs ``[lo, hi)`` of sentence indices."""

    def __init__(
        self, seg: CosineMinimaSegmenter, sentences: Sequence[Segment], units: np.ndarray
    ) -> None:
        self.seg = seg
        self.texts = [s.text for s in sentences]
        self.starts = np.array([s.start for s in sentences], dtype=np.float64)
        self.ends = np.array([s.end for s in sentences], dtype=np.float64)
        self.sums = np.vstack([np.zeros((1, units.shape[1])), np.cumsum(units, axis=0)])

    def duration(self, lo: int, hi: int) -> float:
        return float(self.ends[lo:hi].max() - self.starts[lo:hi].min())

    def chars(self, lo: int, hi: int) -> int:
        return len(join_texts(self.texts[lo:hi]))

    def too_long(self, lo: int, hi: int) -> bool:
        seg = self.seg
        return self.duration(lo, hi) > seg.max_duration or self.chars(lo, hi) > seg.max_chars

    def too_short(self, lo: int, hi: int) -> bool:
        seg = self.seg
        return self.duration(lo, hi) < seg.min_duration or self.chars(lo, hi) < seg.min_chars

    def cut(self, lo: int, hi: int, scores: np.ndarray) -> list[tuple[int, int]]:
        """Split ``[lo, hi)`` at its lowest-scoring interior sentences until every piece fits."""
        done: list[tuple[int, int]] = []
        todo = [(lo, hi)]
        while todo:
            lo, hi = todo.pop()
            if hi - lo < 2 or not self.too_long(lo, hi):
                done.append((lo, hi))
                continue
            at = lo + 1 + int(np.argmin(scores[lo + 1 : hi]))
            todo += [(at, hi), (lo, at)]
        return done

    def similarity(self, a: tuple[int, int], b: tuple[int, int]) -> float:
        mean_a = self.sums[a[1]] - self.sums[a[0]]
        mean_b = self.sums[b[1]] - self.sums[b[0]]
        norm = float(np.linalg.norm(mean_a) * np.linalg.norm(mean_b))
        return float(mean_a @ mean_b) / norm if norm > 0 else 0.0

    def merge_short(self, runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Merge each too-short run into its more similar neighbour while the result fits."""
        if self.seg.min_duration <= 0 and self.seg.min_chars <= 0:
            return runs
        runs = list(runs)
        i = 0
        while i < len(runs):
            run = runs[i]
            best: tuple[float, int] | None = None
            if self.too_short(*run):
                for j in (i - 1, i + 1):
                    if 0 <= j < len(runs):
                        merged = (min(run[0], runs[j][0]), max(run[1], runs[j][1]))
                        if not self.too_long(*merged):
                            sim = self.similarity(run, runs[j])
                            if best is None or sim > best[0]:
                                best = (sim, j)
            if best is None:
                i += 1
                continue
            j = best[1]
            lo, hi = min(i, j), max(i, j)
            runs[lo : hi + 1] = [(runs[lo][0], runs[hi][1])]
            i = max(lo - 1, 0)
        return runs
