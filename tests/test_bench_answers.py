"""Fast checks of the scoring in benchmarks/answers.py (on benchmarks/core/squad.py) on hand-made cases
(no models, no audio)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def answers():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # benchmarks/ is not a package: its modules import each other by name
    import answers as module  # noqa: PLC0415

    return module


def scored(answers, text):
    """The words an answer is scored on: its labels removed, then SQuAD's normalization."""
    from core.text import normalize_answer

    return normalize_answer(answers.strip_labels(text)).split()


def test_squad_normalization_with_numbers_as_digits(answers):
    assert scored(answers, "The Twenty-Five  years, [1]!") == ["25", "years"]
    # numbers of 10,000 and more keep their scale word, written either way
    assert scored(answers, "two hundred five thousand") == scored(answers, "205 thousand") == ["205", "thousand"]
    assert scored(answers, "1,200 people") == ["1200", "people"]
    assert answers.answer_scores("twenty five", ["25"])["em"] == 1.0
    assert answers.answer_scores("about 25", ["25"])["em"] == 0.0


def test_f1_and_contains_take_the_best_gold(answers):
    assert answers.answer_scores("It lagged by 25 to 30 years [1].", ["25 to 30 years", "30"])["f1"] == pytest.approx(
        2 * (4 / 7) * 1 / (4 / 7 + 1)
    )
    assert answers.answer_scores("nothing in common", ["Sintra"])["f1"] == 0.0
    assert answers.answer_scores("The town of Sintra [2].", ["sintra", "Lisbon"])["contains"] == 1.0
    assert answers.answer_scores("The town of Sintraville.", ["Sintra"])["contains"] == 0.0


def test_groundedness_counts_content_words_in_cited_passages(answers):
    from mediarag.schema import Answer, Citation

    cite = Citation(source="/a.wav", start=0, end=1, text="Byron praised the town of Sintra.", score=0.5, link="x")
    grounded = Answer(question="q", text="Byron praised Sintra [1].", citations=[cite], grounded=True)
    assert answers.groundedness(grounded) == 1.0
    half = Answer(question="q", text="Byron praised Lisbon", citations=[cite], grounded=True)
    assert answers.groundedness(half) == pytest.approx(2 / 3)
    assert answers.groundedness(Answer(question="q", text="I don't know.")) == 0.0
