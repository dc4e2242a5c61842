"""Numbers written one way, so that "twenty four", "24" and "24th" can match.

Speech recognition writes some numbers as digits and others as words ("in 1991" but "twenty four
people"), and questions are typed either way. `normalize_numbers` rewrites the spelled numbers of
a text as digits (with ``text2num``, for the languages it reads), then settles what that leaves
ambiguous:

- years spoken in pairs: "nineteen ninety one" -> "1991" (text2num gives "19 91");
- a decimal before a scale word: "three point five million" -> "3500000";
- digits spoken one by one: "two two zero" -> "220" (codes, room numbers);
- digit grouping per language: "1,500" (English) and "1.500" (Spanish, German...) -> "1500",
  and a decimal comma "3,5" -> "3.5" where the comma is the decimal mark.

Ordinals keep their mark ("24th", "24º", "24."): the keyword analyzer reads them as the number.
Languages text2num does not read keep their words; the digit grouping still applies.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["SPELLED_LANGUAGES", "normalize_numbers"]

#: Languages whose spelled numbers are read (text2num's).
SPELLED_LANGUAGES = frozenset({"en", "es", "de", "fr", "pt", "it", "nl", "da"})
#: Languages that write "1.500,5" (thousands dot, decimal comma); the others "1,500.5".
_DECIMAL_COMMA = frozenset(
    {"es", "de", "fr", "pt", "it", "nl", "da", "ru", "pl", "cs", "sv", "no", "nb", "fi", "tr", "id", "ro",
     "hu", "el", "uk", "ca", "hr", "sk", "sl", "sr", "bg", "lt", "lv", "et", "is", "gl", "eu", "vi"}
)  # fmt: skip

# Lookarounds: a number is not part of a longer one ("1.5.3", "12,5,7"); a full stop or comma
# after it ends the sentence or the clause.
_END = r"(?!\d|[.,]\d)"
_GROUPED = {
    ",": re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]|,\d)"),
    ".": re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+(?![\d.]|\.\d)"),
}
_DECIMAL = re.compile(r"(?<![\d,.])(\d+),(\d+)" + _END)
_YEAR_PAIR = re.compile(r"(?<![\d.,])(1[1-9]|20) ([1-9]\d)" + _END)
_SCALED = re.compile(r"(?<![\d.,])(\d+(?:[.,]\d+)?) (1000|1000000|1000000000)" + _END)
_DIGIT_RUN = re.compile(r"(?<![\d.,])\d(?: \d)+" + _END)


def normalize_numbers(text: str, language: str | None = None) -> str:
    """``text`` with its numbers as digits without grouping ("1500", "3.5", "24th").

    ``language`` is an ISO 639-1 code (the transcript's, or the question's when known);
    ``None`` or an unknown language reads digits only. Never raises on odd text: what cannot be
    read is left as it is.
    """
    lang = (language or "").lower()[:2]
    out = text
    if lang in SPELLED_LANGUAGES and re.search(r"[^\W\d_]", text):
        out = _spelled_to_digits(out, lang)
        if out != text:
            out = _settle_spoken(out, text, lang in _DECIMAL_COMMA)
    return _ungroup(out, "." if lang in _DECIMAL_COMMA else ",")


def _spelled_to_digits(text: str, lang: str) -> str:
    converter = _converter()
    if converter is None:
        return text
    try:
        return str(converter(text, lang, threshold=0))
    except Exception:  # text2num rejects some odd input (it is a parser): keep the words
        return text


@lru_cache(maxsize=1)
def _converter():  # type: ignore[no-untyped-def]
    try:
        from text_to_num import alpha2digit
    except ImportError:  # a core dependency; without it only digits are normalized
        return None
    return alpha2digit


def _settle_spoken(converted: str, original: str, decimal_comma: bool) -> str:
    """Joins what text2num leaves apart when the digits came from words (not typed as such)."""

    def spoken(match: re.Match[str]) -> bool:
        return match.group(0) not in original

    def year(match: re.Match[str]) -> str:
        return match.group(1) + match.group(2) if spoken(match) else match.group(0)

    def scaled(match: re.Match[str]) -> str:
        if not spoken(match):
            return match.group(0)
        number = match.group(1)
        if "," in number and not decimal_comma:  # "1,500 thousand": grouping, not a decimal
            number = number.replace(",", "")
        value = float(number.replace(",", ".")) * int(match.group(2))
        return str(int(value)) if value.is_integer() else repr(value)

    def run(match: re.Match[str]) -> str:
        return match.group(0).replace(" ", "") if spoken(match) else match.group(0)

    converted = _SCALED.sub(scaled, converted)
    converted = _YEAR_PAIR.sub(year, converted)
    return _DIGIT_RUN.sub(run, converted)


def _ungroup(text: str, thousands: str) -> str:
    if not any(ch.isdigit() for ch in text):
        return text
    text = _GROUPED[thousands].sub(lambda m: m.group(0).replace(thousands, ""), text)
    if thousands == ".":
        text = _DECIMAL.sub(r"\1.\2", text)
    return text
