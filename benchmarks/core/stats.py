"""Summaries of measured values: percentiles of timings, distributions, bootstrap confidence
intervals (of a mean, and of a paired difference), rank correlation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "BOOTSTRAP_SAMPLES",
    "bootstrap_ci",
    "distribution",
    "median",
    "paired_difference",
    "percentile",
    "spearman",
    "summarize",
]

#: Resamples of every bootstrap interval, and the seed they are drawn with (reports repeat).
BOOTSTRAP_SAMPLES = 2000
SEED = 0


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear interpolation between the closest ranks."""
    data = np.asarray([float(v) for v in values], dtype=np.float64)
    if not data.size:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within [0, 100], got {q}")
    return float(np.percentile(data, q))


def median(values: Iterable[float]) -> float:
    return percentile(values, 50.0)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, min, max and count of a list of timings."""
    return {
        "median": median(values),
        "p95": percentile(values, 95.0),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def distribution(values: Sequence[float]) -> dict[str, float]:
    """Mean, p10, p50 and p90 (NaN for no values): how long passages are, for one."""
    if len(values) == 0:
        return {"mean": float("nan"), "p10": float("nan"), "p50": float("nan"), "p90": float("nan")}
    return {
        "mean": float(np.mean(np.asarray(values, dtype=np.float64))),
        "p10": percentile(values, 10),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
    }


def bootstrap_ci(values: np.ndarray, n: int = BOOTSTRAP_SAMPLES, seed: int = SEED) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean of ``values`` (rows resampled: a 2-D array
    of questions x languages keeps each question's languages together)."""
    values = np.asarray(values)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    means = values[idx].reshape(n, -1).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def paired_difference(a: np.ndarray, b: np.ndarray, n: int = BOOTSTRAP_SAMPLES, seed: int = SEED) -> dict[str, float]:
    """Mean of ``a - b`` with a 95 % paired bootstrap interval (rows = questions, resampled)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    lo, hi = bootstrap_ci(diff, n, seed)
    return {"diff": float(diff.mean()), "lo": lo, "hi": hi}


def spearman(x: Sequence[float], y: Sequence[float]) -> dict[str, Any]:
    """Spearman rank correlation with its p-value (NaN for fewer than 3 points)."""
    from scipy.stats import spearmanr

    if len(x) < 3:
        return {"rho": float("nan"), "p": float("nan"), "n": len(x)}
    result = spearmanr(x, y)
    return {"rho": round(float(result.statistic), 4), "p": round(float(result.pvalue), 4), "n": len(x)}
