"""Fast checks of the helpers of benchmarks/hybrid.py and benchmarks/names_numbers.py (nothing
here is timed, no model is loaded)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import hybrid  # noqa: E402
import names_numbers  # noqa: E402


def test_names_and_numbers_set_is_fixed_and_each_question_names_one_field() -> None:
    entries = names_numbers.make_entries(14)
    assert entries == names_numbers.make_entries(14) and len(entries) == 5 * names_numbers.PER_KIND
    questions = names_numbers.make_questions(entries)
    assert len(questions) == 4 * len(entries)
    by_clip = {e.clip: e for e in entries}
    for q in questions:
        e = by_clip[q.entry]
        named = [f for f in ("name", "date", "qty", "code") if getattr(e, f) in q.text]
        assert named == [q.keyed_by], (q.text, named)
    # Within a kind, the field a question names tells its entry apart.
    for kind in names_numbers.KINDS:
        for field in ("name", "date", "qty", "code"):
            values = [getattr(e, field) for e in entries if e.kind == kind]
            assert len(set(values)) == len(values)


def test_logistic_fit_separates_and_the_threshold_keeps_what_it_says() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(1.0, 0.5, (200, 2)), rng.normal(-1.0, 0.5, (200, 2))])
    y = np.r_[np.ones(200), np.zeros(200)]
    w = hybrid.fit_logistic(x, y)
    p = hybrid.predict(w, x)
    assert ((p >= 0.5) == (y == 1)).mean() > 0.95
    t = hybrid.threshold_for(p[y == 1], 0.9)
    assert (p[y == 1] >= t).mean() >= 0.9


def test_rankings_and_fusions_of_a_question() -> None:
    asked = hybrid.Asked(
        qid="q", article=0,
        dense=[("a", 0, 10, 0.85), ("b", 10, 20, 0.84)],
        keyword=[("b", 10, 20, 1.0), ("c", 20, 30, 0.9)],
        chunk_ids=(["a#0", "b#0"], ["b#0", "c#0"]),
        keyword_cosines=[0.84, 0.70],
    )  # fmt: skip
    gold = ("b", 12.0, 15.0)
    assert hybrid.first_hit(asked.dense, gold, 10) == 2
    assert hybrid.first_hit(hybrid.weighted_ranking(asked, 0.15), gold, 10) == 1
    assert hybrid.first_hit(hybrid.fused_ranking(asked, 5.0, 0.5), gold, 10) == 1
    assert hybrid.metrics([1, 2, None])["hit@1"] == 1 / 3
    from mediarag.retrieve.hybrid import FEATURES

    figures = dict(zip(FEATURES, hybrid.features(asked)))
    assert len(figures) == len(FEATURES) == len(hybrid.features(asked))
    assert figures["top_file_share"] == pytest.approx(0.2) and figures["cross_language"] == 0.0  # "a" of 5
