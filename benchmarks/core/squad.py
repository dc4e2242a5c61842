"""Answers against gold answers, as the official SQuAD v1.1 evaluation compares them, after
`core.text.normalize_answer` (which also reads number words as digits): exact match, token F1,
and whether the gold answer appears in a longer answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from .text import normalize_answer

__all__ = ["contains_answer", "exact_match", "f1_score"]


def _truths(ground_truths: str | Iterable[str]) -> list[str]:
    truths = [ground_truths] if isinstance(ground_truths, str) else list(ground_truths)
    if not truths:
        raise ValueError("at least one ground-truth answer is needed")
    return truths


def exact_match(prediction: str, ground_truths: str | Iterable[str], language: str = "en") -> float:
    """1.0 if the normalized prediction equals any normalized ground truth, else 0.0."""
    pred = normalize_answer(prediction, language)
    return float(any(pred == normalize_answer(t, language) for t in _truths(ground_truths)))


def _f1(prediction: str, truth: str) -> float:
    pred_tokens, truth_tokens = prediction.split(), truth.split()
    if not pred_tokens or not truth_tokens:
        return float(pred_tokens == truth_tokens)
    same = sum((Counter(pred_tokens) & Counter(truth_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, ground_truths: str | Iterable[str], language: str = "en") -> float:
    """SQuAD token F1 between the normalized prediction and the best-matching ground truth."""
    pred = normalize_answer(prediction, language)
    return max(_f1(pred, normalize_answer(t, language)) for t in _truths(ground_truths))


def contains_answer(prediction: str, ground_truths: str | Iterable[str], language: str = "en") -> float:
    """1.0 if a normalized ground truth (not empty) appears, as whole words, in the normalized
    prediction: the measure for answers that are sentences rather than spans."""
    pred = f" {normalize_answer(prediction, language)} "
    golds = (normalize_answer(t, language) for t in _truths(ground_truths))
    return float(any(f" {gold} " in pred for gold in golds if gold))
