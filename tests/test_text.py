"""Numbers written one way, and the per-language terms of the keyword index."""

from __future__ import annotations

import pytest

from mediarag.text import normalize_numbers
from mediarag.text.analysis import ANALYSIS_VERSION, analyze, query_terms


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "twenty four people", "24 people"),
        ("en", "in nineteen ninety one", "in 1991"),
        ("en", "the twenty-fourth of May", "the 24th of May"),
        ("en", "1,500 people paid $1,500.50", "1500 people paid $1500.50"),
        ("en", "three point five million.", "3500000."),
        ("en", "code X J two two zero", "code X J 220"),
        ("en", "in 1991 and 19 91", "in 1991 and 19 91"),  # typed digits are left as they are
        ("es", "veinticuatro personas en mil novecientos noventa y uno", "24 personas en 1991"),
        ("es", "1.500 personas y 3,5 millones", "1500 personas y 3500000"),
        ("de", "vierundzwanzig Leute im Jahr neunzehnhundertneunzig", "24 Leute im Jahr 1990"),
        ("de", "1.500,5 Euro und 12,30 Uhr", "1500.5 Euro und 12.30 Uhr"),
        (None, "1,500 people", "1500 people"),
        ("zh", "1,500人", "1500人"),
        ("ja", "no numbers here", "no numbers here"),
    ],
)
def test_numbers_are_digits_without_grouping(language: str | None, text: str, expected: str) -> None:
    assert normalize_numbers(text, language) == expected


def test_spoken_and_typed_numbers_give_the_same_terms() -> None:
    assert analyze("It cost twenty four euros on the third of May", "en") == analyze("It cost 24 euros on the 3rd of May", "en")
    assert analyze("Zahlen Sie vierundzwanzig Euro am 3. Mai", "de") == analyze("Zahlen Sie 24 Euro am 3. Mai", "de")
    assert "1500" in analyze("1.500 personas", "es") and "1500" in analyze("1,500 people", "en")


def test_stems_stop_words_and_accents_per_language() -> None:
    assert analyze("The technicians replaced the pumps", "en") == ["technician", "replac", "pump"]
    assert analyze("Las bombas fueron reemplazadas", "es") == ["bomb", "reemplaz"]
    # German: stemmed, accents folded after stemming ("Müller" and "Muller" match).
    assert analyze("Müller", "de") == analyze("Muller", "de")
    assert "apfel" in analyze("Äpfel", "de")
    # A language without a Snowball stemmer keeps its words whole (no stop words either).
    assert analyze("Habari za asubuhi", "sw") == ["habari", "za", "asubuhi"]
    assert analyze("Running dogs", None) == ["running", "dogs"]


def test_codes_and_names_are_terms() -> None:
    assert analyze("Ticket XJ-220 for Lindqvist", "en") == ["ticket", "xj", "220", "lindqvist"]
    assert analyze("3.5 kg and 24th", "en") == ["3.5", "kg", "24"]


def test_text_without_spaces_is_cut_into_character_pairs() -> None:
    terms = analyze("超级碗50是一场比赛", "zh")
    assert terms == ["超级", "级碗", "50", "是一", "一场", "场比", "比赛"]
    assert analyze("東京タワー", "ja") == ["東京", "京タ", "タワ", "ワー"]
    assert analyze("碗", "zh") == ["碗"]
    # Mixed with a spaced language, whatever the passage's language says.
    assert analyze("Tokyo 東京", "en") == ["tokyo", "東京"]


def test_query_terms_cover_every_language_of_the_index() -> None:
    terms = query_terms("When was the Treaty of Rome signed?", ["en", "es"])
    assert {"treati", "rome", "sign"} <= set(terms)  # English stems
    assert {"rom", "treaty"} <= set(terms)  # the Spanish analysis of the same words
    assert len(terms) == len(set(terms))
    assert query_terms("Petrov", []) == ["petrov"]
    assert isinstance(ANALYSIS_VERSION, int)
