"""Word and character error rates: edit distance, alignment, and the counts behind them.

`edit_distance` is the fast one (numpy, a row at a time: long transcripts and character strings
take milliseconds); `align` also says which edits (substitutions, deletions, insertions) and is
pure Python, for texts of up to a few thousand words. Texts are normalized before they are
compared: `core.text.normalize_transcript` by default (numbers as words, articles kept), or any
other ``normalize`` function of ``(text, language)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .text import normalize_transcript

__all__ = [
    "Edits",
    "align",
    "char_distance",
    "char_error_rate",
    "counts_of",
    "edit_counts",
    "edit_distance",
    "word_distance",
    "word_edits",
    "word_error_rate",
]

Normalizer = Callable[[str, str], str]


@dataclass
class Edits:
    """Alignment counts of a hypothesis against a reference (``ref`` = reference length)."""

    sub: int = 0
    dele: int = 0
    ins: int = 0
    ref: int = 0

    @property
    def hits(self) -> int:
        return self.ref - self.sub - self.dele

    @property
    def errors(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float | None:
        """Errors per reference unit; None for an empty reference."""
        return self.errors / self.ref if self.ref else None

    def __add__(self, other: Edits) -> Edits:
        return Edits(self.sub + other.sub, self.dele + other.dele, self.ins + other.ins, self.ref + other.ref)

    def as_dict(self) -> dict[str, Any]:
        return {"sub": self.sub, "del": self.dele, "ins": self.ins, "ref": self.ref, "rate": self.rate}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Edits:
        """The inverse of `as_dict`."""
        return cls(d["sub"], d["del"], d["ins"], d["ref"])


def edit_distance(ref: Sequence[Any], hyp: Sequence[Any]) -> int:
    """Levenshtein distance (unit costs) between two sequences of tokens or characters.

    One numpy row per reference token: the insertion recurrence ``d[j] = min(t[j], d[j-1] + 1)``
    is ``j + cummin(t[k] - k)``, so long sequences take milliseconds.
    """
    if not ref:
        return len(hyp)
    if not hyp:
        return len(ref)
    vocab: dict[Any, int] = {}
    r = np.array([vocab.setdefault(x, len(vocab)) for x in ref], dtype=np.int64)
    h = np.array([vocab.setdefault(x, len(vocab)) for x in hyp], dtype=np.int64)
    idx = np.arange(len(h) + 1, dtype=np.int64)
    prev = idx.copy()
    row = np.empty_like(prev)
    for i, code in enumerate(r, start=1):
        row[0] = i
        np.minimum(prev[:-1] + (h != code), prev[1:] + 1, out=row[1:])
        prev = np.minimum.accumulate(row - idx) + idx
    return int(prev[-1])


def align(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[str, str | None, str | None]]:
    """A minimum-edit alignment (Levenshtein, unit costs) as a list of
    ``(op, ref_token, hyp_token)`` with op ``=`` (match), ``S``, ``D`` (ref token missing from
    the hypothesis) or ``I`` (hypothesis token not in the reference). Ties prefer a match or
    substitution, then a deletion."""
    n, m = len(ref), len(hyp)
    cost = [list(range(m + 1))]
    for i in range(1, n + 1):
        prev = cost[-1]
        row = [i] + [0] * m
        r = ref[i - 1]
        for j in range(1, m + 1):
            diag = prev[j - 1] + (r != hyp[j - 1])
            up = prev[j] + 1
            left = row[j - 1] + 1
            row[j] = diag if diag <= up and diag <= left else (up if up <= left else left)
        cost.append(row)
    ops: list[tuple[str, str | None, str | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            ops.append(("=" if ref[i - 1] == hyp[j - 1] else "S", ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            ops.append(("D", ref[i - 1], None))
            i -= 1
        else:
            ops.append(("I", None, hyp[j - 1]))
            j -= 1
    ops.reverse()
    return ops


def counts_of(ops: Sequence[tuple[str, str | None, str | None]]) -> Edits:
    """The `Edits` of an alignment (`align`)."""
    counts = Counter(op for op, _, _ in ops)
    return Edits(sub=counts["S"], dele=counts["D"], ins=counts["I"], ref=len(ops) - counts["I"])


def edit_counts(ref: Sequence[str], hyp: Sequence[str]) -> Edits:
    """Substitutions, deletions and insertions of the minimum-edit alignment."""
    return counts_of(align(ref, hyp))


def word_edits(
    reference: str | None, hypothesis: str | None, language: str = "en", normalize: Normalizer = normalize_transcript
) -> Edits:
    """`edit_counts` of the normalized words."""
    return edit_counts(normalize(reference or "", language).split(), normalize(hypothesis or "", language).split())


def word_distance(
    reference: str | None, hypothesis: str | None, language: str = "en", normalize: Normalizer = normalize_transcript
) -> tuple[int, int]:
    """(word edit distance, reference words) of the normalized texts: what a corpus-level WER
    adds up, fast enough for whole transcripts."""
    ref = normalize(reference or "", language).split()
    return edit_distance(ref, normalize(hypothesis or "", language).split()), len(ref)


def char_distance(
    reference: str | None, hypothesis: str | None, language: str = "en", normalize: Normalizer = normalize_transcript
) -> tuple[int, int]:
    """(character edit distance, reference characters) of the normalized strings, single spaces
    counted."""
    ref, hyp = normalize(reference or "", language), normalize(hypothesis or "", language)
    return edit_distance(ref, hyp), len(ref)


def word_error_rate(
    reference: str | None, hypothesis: str | None, language: str = "en", normalize: Normalizer = normalize_transcript
) -> float:
    """Word error rate of one pair. With an empty reference the rate is undefined; the number
    of inserted words is returned instead (0 when both are empty)."""
    errors, words = word_distance(reference, hypothesis, language, normalize)
    return errors / words if words else float(errors)


def char_error_rate(
    reference: str | None, hypothesis: str | None, language: str = "en", normalize: Normalizer = normalize_transcript
) -> float:
    """Character error rate of one pair (inserted characters for an empty reference)."""
    errors, chars = char_distance(reference, hypothesis, language, normalize)
    return errors / chars if chars else float(errors)
