"""Numbers as words, 0..9999, in the languages the benchmarks use.

Speech recognition writes "24" where a reference says "twenty-four", and the other way round, so
both scorers map numbers to one side before comparing:

- `number_to_words` spells a number as it is spoken (en, es, de, fr, pt), words separated by
  single spaces ("twenty four", "dix sept"; German numbers are one word,
  "zweitausendvierundzwanzig"). The ASR normalizer (`core.text.normalize_transcript`) turns
  digits into these words.
- `words_to_number` and `words_to_digits` read number words back (en, es, de), with common
  variants ("one hundred and five", "veintiún", "hundertzwei", "dreissig"). The answer
  normalizer (`core.text.normalize_answer`) turns number words into digits.
- `english_ordinal` spells 20 as "twentieth".

Only the standard library is needed.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "PARSED_LANGUAGES",
    "SPELLED_LANGUAGES",
    "english_ordinal",
    "number_to_words",
    "words_to_digits",
    "words_to_number",
]

# ---------------------------------------------------------------------------------------------
# Spelling: one function per language, each returning the words of n (0..9999)
# ---------------------------------------------------------------------------------------------

_EN_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _en(n: int) -> list[str]:
    if n < 20:
        return [_EN_ONES[n]]
    if n < 100:
        return [_EN_TENS[n // 10]] + (_en(n % 10) if n % 10 else [])
    if n < 1000:
        return _en(n // 100) + ["hundred"] + (_en(n % 100) if n % 100 else [])
    return _en(n // 1000) + ["thousand"] + (_en(n % 1000) if n % 1000 else [])


@dataclass(frozen=True)
class _Iberian:
    """Spanish and Portuguese cardinals: one structure, their own words and joiners."""

    ones: tuple[str, ...]  # the numbers spelled as one word (Spanish to 29, Portuguese to 19)
    tens: tuple[str, ...]
    hundreds: tuple[str, ...]
    hundred: str  # 100 alone: "cien", "cem"
    joiner: str  # between tens and units: "treinta y uno", "vinte e um"
    joins_hundreds: bool  # Portuguese also joins after hundreds and thousands: "duzentos e cinco"

    def __call__(self, n: int) -> list[str]:
        if n < len(self.ones):
            return [self.ones[n]]
        if n < 100:
            return [self.tens[n // 10]] + ([self.joiner, *self(n % 10)] if n % 10 else [])
        joiner = [self.joiner] if self.joins_hundreds else []
        if n == 100:
            return [self.hundred]
        if n < 1000:
            return [self.hundreds[n // 100]] + ([*joiner, *self(n % 100)] if n % 100 else [])
        head = ["mil"] if n // 1000 == 1 else self(n // 1000) + ["mil"]
        rest = n % 1000
        if not rest:
            return head
        # "mil e quinhentos", "dois mil e dois", but "mil novecentos e sessenta e três"
        return head + (joiner if rest < 100 or rest % 100 == 0 else []) + self(rest)


_es = _Iberian(
    ones=tuple(
        "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
        "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés "
        "veinticuatro veinticinco veintiséis veintisiete veintiocho veintinueve".split()
    ),
    tens=tuple("_ _ veinte treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()),
    hundreds=tuple(
        "_ ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos "
        "ochocientos novecientos".split()
    ),
    hundred="cien",
    joiner="y",
    joins_hundreds=False,
)
_pt = _Iberian(
    ones=tuple(
        "zero um dois três quatro cinco seis sete oito nove dez onze doze treze catorze quinze "
        "dezesseis dezessete dezoito dezenove".split()
    ),
    tens=tuple("_ _ vinte trinta quarenta cinquenta sessenta setenta oitenta noventa".split()),
    hundreds=tuple(
        "_ cento duzentos trezentos quatrocentos quinhentos seiscentos setecentos oitocentos "
        "novecentos".split()
    ),
    hundred="cem",
    joiner="e",
    joins_hundreds=True,
)


_FR_ONES = (
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze "
    "seize dix-sept dix-huit dix-neuf"
).split()
_FR_TENS = "_ _ vingt trente quarante cinquante soixante".split()


def _fr(n: int) -> list[str]:
    if n < 20:
        return _FR_ONES[n].split("-")
    if n < 70:
        tens, unit = divmod(n, 10)
        if unit == 0:
            return [_FR_TENS[tens]]
        return [_FR_TENS[tens]] + (["et", "un"] if unit == 1 else _fr(unit))
    if n < 80:  # soixante-dix .. soixante-dix-neuf, "soixante et onze"
        return ["soixante"] + (["et", "onze"] if n == 71 else _fr(n - 60))
    if n < 100:  # quatre-vingts, quatre-vingt-un, quatre-vingt-dix ..
        if n == 80:
            return ["quatre", "vingts"]
        return ["quatre", "vingt"] + _fr(n - 80)
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = ["cent"] if hundreds == 1 else _fr(hundreds) + ["cent" if rest else "cents"]
        return head + (_fr(rest) if rest else [])
    thousands, rest = divmod(n, 1000)
    head = ["mille"] if thousands == 1 else _fr(thousands) + ["mille"]
    return head + (_fr(rest) if rest else [])


_DE_ONES = (
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn "
    "fünfzehn sechzehn siebzehn achtzehn neunzehn"
).split()
_DE_TENS = "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig".split()


def _de_below_100(n: int) -> str:
    if n < 20:
        return _DE_ONES[n]
    tens, unit = divmod(n, 10)
    if not unit:
        return _DE_TENS[tens]
    return ("ein" if unit == 1 else _DE_ONES[unit]) + "und" + _DE_TENS[tens]


def _de(n: int) -> list[str]:
    """German numbers are one word: 1963 -> "eintausendneunhundertdreiundsechzig"."""
    if n == 0:
        return ["null"]
    word = ""
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    if thousands:
        word += ("ein" if thousands == 1 else _DE_ONES[thousands]) + "tausend"
    if hundreds:
        word += ("ein" if hundreds == 1 else _DE_ONES[hundreds]) + "hundert"
    if rest:
        word += _de_below_100(rest)
    return [word]


_SPELLERS: dict[str, Callable[[int], list[str]]] = {"en": _en, "es": _es, "de": _de, "fr": _fr, "pt": _pt}

#: Languages `number_to_words` spells.
SPELLED_LANGUAGES = tuple(_SPELLERS)
#: Languages `words_to_number` and `words_to_digits` read.
PARSED_LANGUAGES = ("en", "es", "de")


def number_to_words(n: int, language: str = "en") -> str:
    """``n`` (0..9999) as it is spoken in ``language`` (en, es, de, fr, pt), a cardinal, words
    separated by single spaces: 2024 -> "two thousand twenty four", "dos mil veinticuatro",
    "zweitausendvierundzwanzig"; 17 -> "dix sept", 21 -> "vinte e um"."""
    if int(n) != n or not 0 <= n <= 9999:
        raise ValueError(f"only whole numbers 0..9999 are spelled, got {n!r}")
    try:
        spell = _SPELLERS[language]
    except KeyError:
        raise ValueError(f"no number words for language {language!r} (have {', '.join(SPELLED_LANGUAGES)})") from None
    return " ".join(spell(int(n)))


_EN_ORDINAL_IRREGULAR = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}  # fmt: skip


def english_ordinal(n: int) -> str:
    """``n`` (0..9999) as an English ordinal: 20 -> "twentieth", 21 -> "twenty first"."""
    words = number_to_words(n, "en").split()
    last = words[-1]
    if last in _EN_ORDINAL_IRREGULAR:
        last = _EN_ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join(words[:-1] + [last])


# ---------------------------------------------------------------------------------------------
# Reading: number words back to numbers (en, es, de)
# ---------------------------------------------------------------------------------------------


def _check_parsed(language: str) -> str:
    if language not in PARSED_LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(PARSED_LANGUAGES)}, got {language!r}")
    return language


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _variants(n: int, language: str) -> set[str]:
    """Spellings of ``n`` that `words_to_number` accepts (lower case, words separated by spaces)."""
    base = number_to_words(n, language)
    forms = {base}
    if language == "en":
        # British "and": "one hundred and five", "two thousand and six".
        words = base.split()
        for scale in ("hundred", "thousand"):
            if scale in words and words[-1] != scale:
                i = words.index(scale)
                forms.add(" ".join([*words[: i + 1], "and", *words[i + 1 :]]))
                break
    elif language == "es":
        more = set()
        for form in forms:
            # "veintiún"/"un"/"una" before nouns; the same without accents.
            more.add(re.sub(r"uno$", "un", form))
            more.add(re.sub(r"uno$", "una", form))
            more.add(re.sub(r"veintiuno$", "veintiún", form))
        forms |= {f for f in more if f != "un" and f != "una"}
        forms |= {_strip_accents(f) for f in forms}
    elif language == "de":
        if n == 1:
            forms.add("ein")
            forms.add("eine")
        if 100 <= n % 1000 < 200:  # "hundert" for "einhundert"
            forms.add(re.sub(r"(^|tausend)einhundert", r"\1hundert", base))
        if 1000 <= n < 2000:
            forms |= {re.sub(r"^eintausend", "tausend", f) for f in set(forms)}
        forms |= {f.replace("ß", "ss") for f in forms}
        forms |= {_strip_accents(f) for f in forms}
    return forms


@lru_cache(maxsize=None)
def _word_table(language: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for n in range(10_000):
        for form in _variants(n, language):
            table.setdefault(form, n)
    return table


@lru_cache(maxsize=None)
def _longest_form(language: str) -> int:
    return max(len(form.split()) for form in _word_table(language))


def words_to_number(text: str, language: str = "en") -> int | None:
    """The number (0..9999) that ``text`` spells in ``language`` (en, es, de), or None.

    Case, hyphens and surrounding spaces are ignored; common variants are accepted ("one hundred
    and five", "veintiún", "hundertzwei", "dreissig").
    """
    key = " ".join(text.lower().replace("-", " ").split())
    return _word_table(_check_parsed(language)).get(key)


#: Standalone words that are articles first (SQuAD removes them), not the number one.
_ARTICLE_ONES = frozenset({"un", "una", "ein", "eine"})
_EDGE_PUNCT = string.punctuation + "¿¡«»“”‘’„"
_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:[.,]\d{3})+)(?![\d]|[.,]\d)")


def words_to_digits(text: str, language: str = "en") -> str:
    """Replace number words in lower-cased ``text`` with digits, longest match first.

    ``text`` should already be lower case with hyphens as spaces. Thousands separators in digits
    are dropped too ("1,000" and "1.000" -> "1000"). Larger numbers keep their scale words
    ("two hundred five thousand" -> "205 thousand", as "205 thousand" stays), so both ways of
    writing them still compare equal.
    """
    table = _word_table(_check_parsed(language))
    text = _THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"[.,]", "", m.group(2)), text)
    tokens = text.split()
    out: list[str] = []
    i = 0
    longest = _longest_form(language)
    while i < len(tokens):
        for size in range(min(longest, len(tokens) - i), 0, -1):
            phrase = " ".join(t.strip(_EDGE_PUNCT) for t in tokens[i : i + size])
            if size == 1 and phrase in _ARTICLE_ONES:
                continue
            value = table.get(phrase)
            if value is not None:
                last = tokens[i + size - 1]
                trailing = last[len(last.rstrip(_EDGE_PUNCT)) :]
                out.append(f"{value}{trailing}")
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)
