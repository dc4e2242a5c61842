"""Fast checks of the scoring in benchmarks/answers.py on hand-made cases (no models, no audio)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def answers():
    sys.path.insert(0, str(BENCH))
    try:
        import answers as module  # noqa: PLC0415 - benchmarks/ is not a package
    finally:
        sys.path.remove(str(BENCH))
    return module


def test_squad_normalization_with_numbers_as_digits(answers):
    assert answers.normalize("The Twenty-Five  years, [1]!") == ["25", "years"]
    assert answers.normalize("two hundred five thousand") == ["205000"]
    assert answers.normalize("1,200 people") == ["1200", "people"]
    assert answers.exact_match("twenty five", ["25"]) == 1.0
    assert answers.exact_match("about 25", ["25"]) == 0.0


def test_f1_and_contains_take_the_best_gold(answers):
    assert answers.f1("It lagged by 25 to 30 years [1].", ["25 to 30 years", "30"]) == pytest.approx(
        2 * (4 / 7) * 1 / (4 / 7 + 1)
    )
    assert answers.f1("nothing in common", ["Sintra"]) == 0.0
    assert answers.contains("The town of Sintra [2].", ["sintra", "Lisbon"]) == 1.0
    assert answers.contains("The town of Sintraville.", ["Sintra"]) == 0.0


def test_groundedness_counts_content_words_in_cited_passages(answers):
    from mediarag.schema import Answer, Citation

    cite = Citation(source="/a.wav", start=0, end=1, text="Byron praised the town of Sintra.", score=0.5, link="x")
    grounded = Answer(question="q", text="Byron praised Sintra [1].", citations=[cite], grounded=True)
    assert answers.groundedness(grounded) == 1.0
    half = Answer(question="q", text="Byron praised Lisbon", citations=[cite], grounded=True)
    assert answers.groundedness(half) == pytest.approx(2 / 3)
    assert answers.groundedness(Answer(question="q", text="I don't know.")) == 0.0
