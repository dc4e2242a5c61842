"""Text normalization before scoring: one normalizer for transcripts, one for answers.

- `normalize_transcript` (word and character error rates of speech recognition): Unicode NFKC,
  lower case, English ordinals ("20th") to words, thousands separators dropped ("1,000" in
  English, "1.000" in de/es/fr/pt), "%" to the language's word, apostrophes removed ("don't" ->
  "dont", "l'accident" -> "laccident"), every other punctuation or symbol character (Unicode
  categories P* and S*: . , ; : ! ? - « » ¿ ¡ " ...) turned into a space, digits split from
  letters, and every run of at most 4 digits written out as words in the utterance's language
  ("25" -> "twenty five", "veinticinco", "fünfundzwanzig", ...). Numbers go digits -> words
  (never words -> digits) on both sides, as cardinals: "1963" reads "one thousand nine hundred
  sixty three", not as a year; a decimal point is just a word break; runs of 5 or more digits
  stay digits. Accents, "ß" and articles are kept.
- `normalize_answer` (EM and F1 of answers, SQuAD v1.1 style): lower case, hyphens as spaces,
  number words to digits and thousands separators dropped, punctuation removed, the language's
  articles removed (en, es, de), whitespace collapsed: "The twenty-one pilots." and "21 pilots"
  both give "21 pilots".
"""

from __future__ import annotations

import re
import string
import unicodedata

from .numbers import SPELLED_LANGUAGES, english_ordinal, number_to_words, words_to_digits

__all__ = ["normalize_answer", "normalize_transcript", "transcript_words"]

# ---------------------------------------------------------------------------------------------
# Transcripts (speech recognition scoring)
# ---------------------------------------------------------------------------------------------

_PERCENT = {"en": "percent", "es": "por ciento", "pt": "por cento", "fr": "pour cent", "de": "prozent"}
_APOSTROPHES = "'\u2019\u2018\u02bc\u00b4`"
_EN_ORDINAL = re.compile(r"\b(\d{1,4})(st|nd|rd|th)\b")
_EN_THOUSANDS = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_EU_THOUSANDS = re.compile(r"\b\d{1,3}(?:[.\u00a0\u202f]\d{3})+\b(?![.,]\d)")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[^\W\d_])|(?<=[^\W\d_])(?=\d)")
_DIGITS = re.compile(r"\d+")


def normalize_transcript(text: str | None, language: str = "en") -> str:
    """Text for word and character error rates: see the module docstring for the rules, applied
    in that order."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower()
    if language == "en":
        text = _EN_ORDINAL.sub(lambda m: f" {english_ordinal(int(m.group(1)))} ", text)
        text = _EN_THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    else:
        text = _EU_THOUSANDS.sub(lambda m: re.sub(r"\D", "", m.group(0)), text)
    if language in _PERCENT:
        text = text.replace("%", f" {_PERCENT[language]} ")
    for mark in _APOSTROPHES:
        text = text.replace(mark, "")
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    text = _DIGIT_LETTER.sub(" ", text)
    if language in SPELLED_LANGUAGES:

        def spell(m: re.Match[str]) -> str:
            digits = m.group(0)
            return f" {number_to_words(int(digits), language)} " if len(digits) <= 4 else digits

        text = _DIGITS.sub(spell, text)
    return " ".join(text.split())


def transcript_words(text: str | None, language: str = "en") -> list[str]:
    """The words of `normalize_transcript`."""
    return normalize_transcript(text, language).split()


# ---------------------------------------------------------------------------------------------
# Answers (SQuAD-style comparison)
# ---------------------------------------------------------------------------------------------

_ARTICLES = {
    "en": ("a", "an", "the"),
    "es": ("el", "la", "los", "las", "un", "una", "unos", "unas", "lo"),
    "de": (
        "der", "die", "das", "den", "dem", "des",
        "ein", "eine", "einen", "einem", "einer", "eines",
    ),
}  # fmt: skip
_PUNCT = set(string.punctuation) | set("¿¡«»“”‘’„–—…")


def normalize_answer(text: str, language: str = "en") -> str:
    """SQuAD v1.1 normalization, per language (en, es, de), with number words turned into
    digits (see the module docstring)."""
    text = text.lower().replace("-", " ").replace("\u2011", " ")
    text = words_to_digits(text, language)
    text = "".join(ch for ch in text if ch not in _PUNCT)
    articles = _ARTICLES[language]
    return " ".join(t for t in text.split() if t not in articles)
