"""Evaluation of timestamped retrieval: did the retrieved passages point at the right moment?

Written in the style of sentence-transformers' ``evaluation/`` package: one small base class,
`Evaluator`, and one subclass per metric. An evaluator is called on a `RetrievalRun` (what was
retrieved for each query, the gold evidence of each query, and what was indexed) and returns a
``{metric name: value}`` dict; `SequentialEvaluator` runs several and merges their dicts::

    run = RetrievalRun(rankings=[[RankedHit("a.ogg", 10, 40), ...], ...],
                       golds=[Gold("a.ogg", 30, 60), ...],
                       passages=indexed_spans, audio_seconds=3600)
    SequentialEvaluator([HitAtK(1), HitAtK(5), MRRAtK(10), MeanTemporalIoU(10),
                         PassagesPerHour()])(run)
    # {'hit@1': 0.41, 'hit@5': 0.77, 'mrr@10': 0.55, 'mean_tiou@10': 0.31,
    #  'passages_per_hour': 212.0}

Query-level metrics also give one value per query (`QueryEvaluator.per_query`), for bootstrap
confidence intervals and paired comparisons (`core.stats`).

A retrieved passage *hits* the gold evidence when it comes from the gold file and its time span
overlaps the gold span by more than zero seconds (spans that only touch do not count).

Only numpy is needed; nothing here loads a model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Evaluator",
    "Gold",
    "HitAtK",
    "HitWithinSeconds",
    "MRRAtK",
    "MeanTemporalIoU",
    "PassagesPerHour",
    "QueryEvaluator",
    "RankedHit",
    "RetrievalRun",
    "SequentialEvaluator",
    "TopKEvaluator",
    "Span",
    "first_hit_rank",
    "overlap_seconds",
    "overlaps",
    "seconds_to_evidence",
    "temporal_iou",
]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A time span ``[start, end]`` (seconds) of one media file."""

    source: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"span ends ({self.end}) before it starts ({self.start})")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class RankedHit(Span):
    """One retrieved passage: its file and time span, and its similarity score."""

    score: float = 0.0


@dataclass(frozen=True)
class Gold(Span):
    """The gold evidence of one query: the file and time span where its answer is spoken."""


@dataclass
class RetrievalRun:
    """Everything the retrieval evaluators look at.

    Args:
        rankings: for each query, the retrieved passages, best first.
        golds: for each query, its gold evidence (same order as ``rankings``).
        passages: every indexed passage (only `PassagesPerHour` reads it).
        audio_seconds: total length of the indexed audio (only `PassagesPerHour` reads it).
    """

    rankings: Sequence[Sequence[RankedHit]]
    golds: Sequence[Gold]
    passages: Sequence[Span] = field(default_factory=tuple)
    audio_seconds: float = 0.0

    def __post_init__(self) -> None:
        if len(self.rankings) != len(self.golds):
            raise ValueError(
                f"{len(self.rankings)} rankings but {len(self.golds)} golds: one of each per query"
            )


# ---------------------------------------------------------------------------------------------
# Span arithmetic
# ---------------------------------------------------------------------------------------------


def overlap_seconds(a: Span, b: Span) -> float:
    """Seconds shared by two spans (0 if they are in different files or do not meet)."""
    if a.source != b.source:
        return 0.0
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def overlaps(hit: Span, gold: Span) -> bool:
    """Whether ``hit`` is from the gold file and shares more than zero seconds with ``gold``."""
    return overlap_seconds(hit, gold) > 0.0


def temporal_iou(a: Span, b: Span) -> float:
    """Intersection over union of two time spans (0 for different files or no overlap)."""
    inter = overlap_seconds(a, b)
    if inter <= 0.0:
        return 0.0
    union = max(a.end, b.end) - min(a.start, b.start)
    return inter / union if union > 0 else 0.0


def first_hit_rank(ranking: Sequence[Span], gold: Span, k: int | None = None) -> int | None:
    """1-based rank of the first passage among the top ``k`` that overlaps ``gold``, else None."""
    for rank, hit in enumerate(ranking[:k] if k is not None else ranking, start=1):
        if overlaps(hit, gold):
            return rank
    return None


def seconds_to_evidence(ranking: Sequence[Span], gold: Span, k: int | None = None) -> float | None:
    """Seconds of retrieved audio played before the gold evidence is reached, or None.

    The top ``k`` passages are played in rank order, each from its start to its end; the answer
    is the playing time elapsed when the first overlap with ``gold`` begins (passages before it
    count whole, plus the part of the hitting passage before the gold span starts).
    """
    elapsed = 0.0
    for hit in ranking[:k] if k is not None else ranking:
        if overlaps(hit, gold):
            return elapsed + max(0.0, gold.start - hit.start)
        elapsed += hit.duration
    return None


# ---------------------------------------------------------------------------------------------
# Evaluators
# ---------------------------------------------------------------------------------------------


class Evaluator(ABC):
    """Base class: computes one or more named metrics over a `RetrievalRun`.

    Subclasses set `name` (the key of their main metric) and implement `compute`. Calling an
    evaluator returns ``compute(run)``, with every key prefixed by ``prefix`` when one is given.
    """

    #: Key of the main metric in the returned dict.
    name: str = "metric"

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    @abstractmethod
    def compute(self, run: RetrievalRun) -> dict[str, float]:
        """The metric values, by name."""

    def __call__(self, run: RetrievalRun) -> dict[str, float]:
        values = self.compute(run)
        return {f"{self.prefix}{key}": value for key, value in values.items()}

    @property
    def primary_metric(self) -> str:
        return f"{self.prefix}{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class QueryEvaluator(Evaluator):
    """An evaluator whose metric is the mean of one value per query (0 for no queries)."""

    @abstractmethod
    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        """The metric for one query."""

    def per_query(self, run: RetrievalRun) -> np.ndarray:
        """One value per query, in query order."""
        return np.array(
            [self.score_query(r, g) for r, g in zip(run.rankings, run.golds)], dtype=np.float64
        )

    def compute(self, run: RetrievalRun) -> dict[str, float]:
        values = self.per_query(run)
        return {self.name: float(values.mean()) if len(values) else 0.0}


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


class TopKEvaluator(QueryEvaluator):
    """A query evaluator that looks at the top ``k`` passages; its metric is ``<label>@<k>``."""

    label = "metric"

    def __init__(self, k: int, prefix: str = "") -> None:
        super().__init__(prefix)
        self.k = _check_k(k)
        self.name = f"{self.label}@{self.k}"


class HitAtK(TopKEvaluator):
    """Share of queries with at least one hit among their top ``k`` passages.

    A hit is a passage from the gold file whose span overlaps the gold span (> 0 s).
    """

    label = "hit"

    def __init__(self, k: int = 5, prefix: str = "") -> None:
        super().__init__(k, prefix)

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        return 1.0 if first_hit_rank(ranking, gold, self.k) is not None else 0.0


class HitWithinSeconds(TopKEvaluator):
    """Share of queries whose gold evidence is reached within ``budget`` seconds of listening.

    The top ``k`` passages are played in rank order (see `seconds_to_evidence`). Unlike hit@k,
    this does not reward long passages for covering more of the file: every chunker gets the
    same listening budget.
    """

    def __init__(self, budget: float = 120.0, k: int = 10, prefix: str = "") -> None:
        super().__init__(k, prefix)
        if not budget > 0:
            raise ValueError(f"budget must be > 0 seconds, got {budget!r}")
        self.budget = float(budget)
        self.name = f"hit@{self.budget:g}s"

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        t = seconds_to_evidence(ranking, gold, self.k)
        return 1.0 if t is not None and t < self.budget else 0.0


class MRRAtK(TopKEvaluator):
    """Mean reciprocal rank of the first hit among the top ``k`` passages (0 when none hits)."""

    label = "mrr"

    def __init__(self, k: int = 10, prefix: str = "") -> None:
        super().__init__(k, prefix)

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        rank = first_hit_rank(ranking, gold, self.k)
        return 1.0 / rank if rank is not None else 0.0


class MeanTemporalIoU(TopKEvaluator):
    """Mean temporal IoU between the gold span and the *best-ranked passage that overlaps it*.

    Definition used: for each query, take the first passage in rank order, among the top ``k``,
    that hits the gold evidence (same file, overlap > 0 s); the query's value is the
    intersection-over-union of that passage's span with the gold span. A query with no hit in
    its top ``k`` scores 0. (It is *not* the best IoU over all hits, nor the IoU of the top-1
    passage whatever it is.) It measures how well the cited span fits the evidence once the
    right place is found: too-long passages and too-short ones both score low.
    """

    label = "mean_tiou"

    def __init__(self, k: int = 10, prefix: str = "") -> None:
        super().__init__(k, prefix)

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        rank = first_hit_rank(ranking, gold, self.k)
        return temporal_iou(ranking[rank - 1], gold) if rank is not None else 0.0


class PassagesPerHour(Evaluator):
    """Indexed passages per hour of indexed audio (index size; fewer means coarser passages)."""

    name = "passages_per_hour"

    def compute(self, run: RetrievalRun) -> dict[str, float]:
        if run.audio_seconds <= 0:
            raise ValueError("PassagesPerHour needs audio_seconds > 0")
        return {self.name: len(run.passages) / (run.audio_seconds / 3600.0)}


class SequentialEvaluator(Evaluator):
    """Runs several evaluators and merges their results (the first one's metric is primary)."""

    def __init__(self, evaluators: Iterable[Evaluator], prefix: str = "") -> None:
        super().__init__(prefix)
        self.evaluators = list(evaluators)
        if not self.evaluators:
            raise ValueError("SequentialEvaluator needs at least one evaluator")
        self.name = self.evaluators[0].primary_metric

    def compute(self, run: RetrievalRun) -> dict[str, float]:
        merged: dict[str, float] = {}
        for evaluator in self.evaluators:
            for key, value in evaluator(run).items():
                if key in merged:
                    raise ValueError(f"two evaluators report {key!r}")
                merged[key] = value
        return merged
