"""Comparing recognised text: normalisation, edit distance and similarity.

Two readings of the same screen rarely come out identical (a letter misread once, typographic
quotes), so spans are matched by similarity on normalised text. The edit distance runs one numpy
row at a time: insertions within a row follow ``D[j] = j + min_{k<=j}(T[k] - k)``.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

_TYPOGRAPHY = str.maketrans(
    {"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
     "–": "-", "—": "-", "‐": "-", "‑": "-", "·": ".", "…": "..."}
)  # fmt: skip
_SPACE = re.compile(r"\s+")
_NOT_DIGIT = re.compile(r"\D")


def normalize(text: str) -> str:
    """NFKC, typographic quotes and dashes as ASCII, whitespace collapsed (case and accents kept)."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)).strip()


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def levenshtein(a: str, b: str) -> int:
    """Insertions, deletions and substitutions that turn ``a`` into ``b``."""
    if not a:
        return len(b)
    if not b:
        return len(a)
    ca, cb = _codes(a), _codes(b)
    idx = np.arange(len(cb) + 1, dtype=np.int64)
    row = idx.copy()
    step = np.empty_like(row)
    for i, ch in enumerate(ca, start=1):
        step[0] = i
        np.minimum(row[1:] + 1, row[:-1] + (cb != ch), out=step[1:])
        row = idx + np.minimum.accumulate(step - idx)
    return int(row[-1])


def similarity(a: str, b: str) -> float:
    """1 - edit distance / the longer length: 1 for equal texts, 0 for nothing in common."""
    if not a and not b:
        return 1.0
    return 1.0 - levenshtein(a, b) / max(len(a), len(b))


def same_text(a: str, b: str, min_similarity: float = 0.9) -> bool:
    """Whether two normalised readings are the same text: similar enough *and* with the same
    digits, so that "slide 3/10" never continues "slide 2/10" and a counter never merges."""
    return _NOT_DIGIT.sub("", a) == _NOT_DIGIT.sub("", b) and similarity(a, b) >= min_similarity
