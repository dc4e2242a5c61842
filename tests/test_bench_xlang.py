"""Fast checks of the helpers of benchmarks/hybrid_xlang.py and benchmarks/names_moments.py
(nothing here is timed, no model is loaded)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import hybrid_xlang  # noqa: E402
import names_moments  # noqa: E402
from mediarag.schema import Chunk  # noqa: E402


def ranked(cross: bool = False) -> hybrid_xlang.Ranked:
    cos = np.array([0.86, 0.85, 0.80, 0.79], np.float32)
    return hybrid_xlang.Ranked(
        qid="q", article=0, cosines=cos, cosines_p=cos, missing=0.5, cross=cross,
        keyword={0.8: [(1, 0.5)], 0.6: [(1, 0.5), (3, 1.0)]},
        gold=np.array([False, True, False, False]), product_top=1,
    )  # fmt: skip


def test_fusion_of_the_benchmark_follows_the_product_and_its_variants() -> None:
    r = ranked()
    base = hybrid_xlang.hybrid_scores(r, dense_depth=2)
    # Cosine + 0.15 x relative score; a keyword-only hit counts with the lowest dense cosine.
    assert np.isclose(base[1], 0.85 + 0.075) and np.isneginf(base[2]) and np.isneginf(base[3])
    assert hybrid_xlang.hit1(r, base) == 1.0
    loose = hybrid_xlang.hybrid_scores(r, fuzzy=0.6, dense_depth=2)
    assert np.isclose(loose[3], 0.85 + 0.15)  # found only by the looser match, at the floor
    # The cross-language weight applies to cross-language questions only.
    assert np.allclose(hybrid_xlang.hybrid_scores(r, cross_weight=0.0), hybrid_xlang.hybrid_scores(r))
    crossed = hybrid_xlang.hybrid_scores(ranked(cross=True), cross_weight=0.0)
    assert np.isclose(crossed[1], 0.85) and hybrid_xlang.hit1(ranked(True), crossed) == 0.0
    # Relative to the question's weight the index holds: doubled when half of it is missing.
    present = hybrid_xlang.hybrid_scores(ranked(cross=True), present=True)
    assert np.isclose(present[1], 0.85 + 0.15 * 1.0)


def test_neighbours_stay_in_their_file_and_rocchio_moves_toward_the_best() -> None:
    chunks = [Chunk(id=f"{s}{i}", source=s, start=i, end=i + 1, text="") for s, i in (("a", 0), ("a", 1), ("b", 0))]
    prev, nxt = hybrid_xlang.neighbours(chunks)
    assert prev.tolist() == [0, 0, 2] and nxt.tolist() == [1, 1, 2]
    cos = np.array([1.0, 0.0, 0.5])
    assert np.allclose(hybrid_xlang.smoothed(cos, (prev, nxt), 1.0), [1.5, 0.5, 1.0])
    matrix = np.eye(3, dtype=np.float32)
    r = ranked()
    r.cosines = np.array([0.9, 0.1, 0.0], np.float32)
    moved = hybrid_xlang.rocchio(r, matrix, np.array([0.0, 1.0, 0.0], np.float32), m=1, beta=1.0)
    assert np.isclose(moved[0], moved[1]) and moved[2] == 0.0


def test_a_moment_counts_only_inside_the_right_entry() -> None:
    entry = (10.0, 20.0)
    assert names_moments.inside((11.0, 19.0), entry, "log", "log")
    assert names_moments.inside((8.0, 18.0), entry, "log", "log")  # 8 of 10 s inside
    assert not names_moments.inside((0.0, 40.0), entry, "log", "log")  # spans the log
    assert not names_moments.inside((11.0, 19.0), entry, "other", "log")
    assert not names_moments.inside(None, entry, "log", "log")
    assert not names_moments.inside((20.0, 25.0), entry, "log", "log")  # touches, no overlap
