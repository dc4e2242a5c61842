"""The terms of the keyword index: text cut into words, per language.

`analyze` turns a passage into the terms it is indexed under, with the analysis of the passage's
language (``Chunk.language``, the language Whisper detected):

1. numbers as digits (`mediarag.text.numbers.normalize_numbers`: "twenty four" and "24" are one
   term, "1,500" and "1500" too; an ordinal is its number, "24th" -> "24");
2. Unicode NFKC and case folding; words are runs of letters or of digits ("XJ-220" gives "xj",
   "220"; "3.5" stays one term);
3. the language's stop words dropped (lists shipped with ``bm25s``) and its Snowball stemmer
   applied (``PyStemmer``), for the languages that have one; other languages keep their words
   whole;
4. accents folded after stemming ("Müller" and "Muller" match);
5. scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese) cut into
   overlapping character pairs, as CJK search engines do, whatever the passage's language, so
   that a sentence is not one term (a single character stays a term of its own).

`query_terms` analyzes a question once per language of the index and keeps every term: a question
typed in English finds Spanish passages through the names and numbers they share, and a question
in the passages' own language gets their stems. `ANALYSIS_VERSION` names this analysis; stored
terms of another version are analyzed again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from .numbers import normalize_numbers

__all__ = ["ANALYSIS_VERSION", "STEMMED_LANGUAGES", "Analyzer", "analyze", "analyzer", "query_terms", "query_words"]

#: Changes whenever the terms `analyze` gives for a text would change.
ANALYSIS_VERSION = 1

#: ISO 639-1 code -> Snowball stemmer (PyStemmer's names).
_STEMMERS = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech", "da": "danish",
    "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian", "fi": "finnish", "fr": "french",
    "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian",
    "nn": "norwegian", "fa": "persian", "pl": "polish", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}  # fmt: skip
#: ISO 639-1 code -> the name of bm25s's stop-word list.
_STOPWORDS = {
    "en": "STOPWORDS_EN_PLUS", "de": "STOPWORDS_GERMAN", "es": "STOPWORDS_SPANISH", "fr": "STOPWORDS_FRENCH",
    "it": "STOPWORDS_ITALIAN", "pt": "STOPWORDS_PORTUGUESE", "nl": "STOPWORDS_DUTCH", "da": "STOPWORDS_DANISH",
    "no": "STOPWORDS_NORWEGIAN", "nb": "STOPWORDS_NORWEGIAN", "sv": "STOPWORDS_SWEDISH",
    "ru": "STOPWORDS_RUSSIAN", "tr": "STOPWORDS_TURKISH",
}  # fmt: skip
STEMMED_LANGUAGES = frozenset(_STEMMERS)

# Scripts without spaces between words: Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar.
_UNSPACED = (
    "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\u0e00-\u0e7f\u0e80-\u0eff\u1780-\u17ff\u1000-\u109f"
)
_TOKEN = re.compile(
    rf"(?P<unspaced>[{_UNSPACED}]+)"
    r"|(?P<number>\d++(?:\.\d++)?)(?:(?:st|nd|rd|th|º|ª|°|er|ème|e|o|a)(?![^\W\d_]))?"
    rf"|(?P<word>(?:(?![{_UNSPACED}])[^\W\d_])+)"
)


class Analyzer:
    """The analysis of one language (``None``: no stemming and no stop words)."""

    def __init__(self, language: str | None) -> None:
        code = (language or "").lower().split("-")[0][:3] or None
        self.language = code
        self._stem = _stemmer(code)
        self._stop = _stop_words(code)

    def terms(self, text: str) -> list[str]:
        """The terms of ``text``, in order (with repeats)."""
        return [term for _, term in self.pairs(text)]

    def pairs(self, text: str) -> list[tuple[str, str]]:
        """Each term of ``text`` with the word it comes from (folded, before stemming)."""
        text = unicodedata.normalize("NFKC", normalize_numbers(text, self.language)).casefold()
        out: list[tuple[str, str]] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup
            if kind == "number":
                out.append((match.group("number"), match.group("number")))
            elif kind == "word":
                word = match.group("word")
                if word in self._stop:
                    continue
                out.append((_fold(word), _fold(self._stem(word) if self._stem else word)))
            else:
                run = match.group("unspaced")
                out.extend((run, t) for t in ([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]))
        return out


@lru_cache(maxsize=64)
def analyzer(language: str | None) -> Analyzer:
    """The (shared) analyzer of ``language``, an ISO 639-1 code or None."""
    return Analyzer(language)


def analyze(text: str, language: str | None) -> list[str]:
    """The terms ``text`` is indexed under, analyzed as ``language``."""
    return analyzer(language).terms(text)


def query_terms(text: str, languages: Iterable[str | None]) -> list[str]:
    """The terms of a question, analyzed as each of ``languages`` (the index's), each term once."""
    return list(dict.fromkeys(t for terms in query_words(text, languages).values() for t in terms))


def query_words(text: str, languages: Iterable[str | None]) -> dict[str, list[str]]:
    """The words of a question, each with its terms under each of ``languages`` (each once), in
    order: the keyword index matches a word fuzzily only when none of its terms is indexed."""
    words: dict[str, dict[str, None]] = {}
    for language in dict.fromkeys(languages) or [None]:
        for word, term in analyzer(language).pairs(text):
            words.setdefault(word, {}).setdefault(term, None)
    return {word: list(terms) for word, terms in words.items()}


def _fold(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stemmer(language: str | None) -> Any:
    name = _STEMMERS.get(language or "")
    if name is None:
        return None
    import Stemmer  # PyStemmer: a core dependency, imported when the first passage is analyzed

    return Stemmer.Stemmer(name).stemWord


def _stop_words(language: str | None) -> frozenset[str]:
    name = _STOPWORDS.get(language or "")
    if name is None:
        return frozenset()
    import bm25s.stopwords

    return frozenset(w.casefold() for w in getattr(bm25s.stopwords, name, ()))
