"""Telling a usable model answer from a degenerate one.

Small local models sometimes reply with only a citation label ("[1] Briefing"), nothing, the
question said back, or words the passages never said. `degenerate` names which; the `Answerer`
then answers with the extractive generator instead and says so (`Answer.fallback`).
A refusal ("I don't know.") is an answer, not a degenerate one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..schema import Hit
from ..terms import guess_language, terms
from ..text.numbers import normalize_numbers
from .prompt import is_refusal, strip_labels

#: An answer whose terms beyond the question's are found in the passages less often than this
#: is "not supported by the passages".
MIN_SUPPORT = 0.5

_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*-\s*\d{1,2}:\d{2}(?::\d{2})?)?")
_YES_NO = re.compile(r"^\W*(?:yes|no|ja|nein|sí|si|oui|non)\b", re.IGNORECASE)


def degenerate(question: str, text: str, passages: Sequence[Hit], min_support: float = MIN_SUPPORT) -> str | None:
    """Why a model's answer to ``question`` over ``passages`` is unusable, or None if it is usable."""
    if is_refusal(text):
        return None
    bare = strip_labels(text).strip()
    if not re.search(r"\w", bare):
        return "the model's reply was empty" if not text.strip() else "the model's reply was only a citation label"
    if _YES_NO.match(bare):
        return None
    if not re.search(r"\w", _CLOCK.sub(" ", bare)) or _plain(_CLOCK.sub(" ", bare)) in _file_names(passages):
        return "the model's reply was only a citation label"
    # numbers compared as digits: "4" is supported by a passage that says "four"
    language = guess_language(question) or "en"
    said = terms(normalize_numbers(bare, language))
    asked = set(terms(normalize_numbers(question, language)))
    if not said or set(said) <= asked:
        return "the model's reply only repeated the question"
    # what the reply adds to the question must come from the passages: the question's own words
    # said back around a made-up figure ("the boiling point of nitrogen is 100 degrees") are no
    # support
    added = [t for t in said if t not in asked]
    known = {t for h in passages for t in terms(normalize_numbers(h.chunk.text, language))}
    support = sum(t in known for t in added) / len(added)
    if support < min_support:
        return "the model's reply was not supported by the passages"
    return None


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def _file_names(passages: Sequence[Hit]) -> set[str]:
    """How a passage's label names its file: with and without the extension."""
    out = set()
    for h in passages:
        path = Path(h.chunk.source.split("#", 1)[0].split("?", 1)[0])
        out |= {_plain(path.name), _plain(path.stem)}
    return out
