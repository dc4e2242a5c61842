"""Fast checks, on hand-made cases (no models, no audio), of what the benchmarks measure with:
benchmarks/core (retrieval metrics, number words, the answer normalizer, EM/F1, edit distance,
WER, bootstrap intervals) and the statistics of benchmarks/retrieval_stats.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))  # benchmarks/ is not a package: its modules import each other by name

from core import numbers, squad, stats, wer  # noqa: E402
from core.text import normalize_answer  # noqa: E402


@pytest.fixture(scope="module")
def ev():
    import core.retrieval_metrics

    return core.retrieval_metrics


def hits(ev, *spans):
    return [ev.RankedHit(src, a, b, score=1.0 - 0.1 * i) for i, (src, a, b) in enumerate(spans)]


# -- spans -------------------------------------------------------------------------------------


def test_overlap_and_iou(ev):
    gold = ev.Gold("a.ogg", 10.0, 20.0)
    assert ev.overlap_seconds(ev.Span("a.ogg", 15, 30), gold) == 5.0
    assert ev.overlaps(ev.Span("a.ogg", 15, 30), gold)
    assert not ev.overlaps(ev.Span("b.ogg", 15, 30), gold)  # other file, same times
    assert not ev.overlaps(ev.Span("a.ogg", 20, 30), gold)  # only touches
    assert not ev.overlaps(ev.Span("a.ogg", 0, 10), gold)
    assert ev.temporal_iou(ev.Span("a.ogg", 15, 30), gold) == pytest.approx(5 / 20)
    assert ev.temporal_iou(ev.Span("a.ogg", 12, 18), gold) == pytest.approx(6 / 10)  # inside
    assert ev.temporal_iou(ev.Span("a.ogg", 10, 20), gold) == 1.0
    assert ev.temporal_iou(ev.Span("b.ogg", 10, 20), gold) == 0.0
    assert ev.temporal_iou(ev.Span("a.ogg", 25, 30), gold) == 0.0
    with pytest.raises(ValueError):
        ev.Span("a.ogg", 5, 4)


def test_first_hit_rank(ev):
    gold = ev.Gold("a", 10, 20)
    ranking = hits(ev, ("b", 10, 20), ("a", 0, 5), ("a", 18, 25), ("a", 10, 20))
    assert ev.first_hit_rank(ranking, gold) == 3
    assert ev.first_hit_rank(ranking, gold, k=2) is None
    assert ev.first_hit_rank([], gold) is None


# -- retrieval metrics -------------------------------------------------------------------------


@pytest.fixture()
def run(ev):
    golds = [ev.Gold("a", 10, 20), ev.Gold("a", 30, 40), ev.Gold("b", 0, 10), ev.Gold("c", 0, 5)]
    rankings = [
        hits(ev, ("a", 12, 22), ("a", 30, 40)),  # hit at rank 1, IoU 8/12
        hits(ev, ("a", 0, 10), ("b", 30, 40), ("a", 35, 55), ("a", 30, 40)),  # hit at rank 3
        hits(ev, ("a", 0, 10), ("c", 0, 10)),  # right times, wrong files: no hit
        [],  # nothing retrieved
    ]
    passages = [ev.Span("a", 0, 30), ev.Span("a", 30, 60), ev.Span("b", 0, 60)]
    return ev.RetrievalRun(rankings, golds, passages=passages, audio_seconds=1800.0)


def test_hit_at_k(ev, run):
    assert ev.HitAtK(1)(run) == {"hit@1": 0.25}
    assert ev.HitAtK(2)(run) == {"hit@2": 0.25}
    assert ev.HitAtK(3)(run) == {"hit@3": 0.5}
    assert ev.HitAtK(5).per_query(run).tolist() == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        ev.HitAtK(0)


def test_mrr_at_k(ev, run):
    assert ev.MRRAtK(10)(run)["mrr@10"] == pytest.approx((1 + 1 / 3) / 4)
    assert ev.MRRAtK(2)(run)["mrr@2"] == pytest.approx(1 / 4)  # the rank-3 hit is cut off
    assert ev.MRRAtK().name == "mrr@10"


def test_mean_temporal_iou_uses_best_ranked_overlapping_hit(ev, run):
    per_query = ev.MeanTemporalIoU(10).per_query(run)
    # query 2: rank 3 (35-55, IoU 5/25) comes before rank 4 (30-40, IoU 1.0): rank 3 counts.
    assert per_query.tolist() == pytest.approx([8 / 12, 5 / 25, 0.0, 0.0])
    assert ev.MeanTemporalIoU(10)(run)["mean_tiou@10"] == pytest.approx((8 / 12 + 5 / 25) / 4)
    assert ev.MeanTemporalIoU(1).per_query(run).tolist() == pytest.approx([8 / 12, 0, 0, 0])


def test_passages_per_hour(ev, run):
    assert ev.PassagesPerHour()(run) == {"passages_per_hour": 6.0}  # 3 passages in half an hour
    with pytest.raises(ValueError):
        ev.PassagesPerHour()(ev.RetrievalRun([], [], passages=[], audio_seconds=0))


def test_sequential_evaluator_and_prefix(ev, run):
    seq = ev.SequentialEvaluator(
        [ev.HitAtK(1), ev.HitAtK(5), ev.MRRAtK(10), ev.MeanTemporalIoU(), ev.PassagesPerHour()],
        prefix="en/",
    )
    out = seq(run)
    assert list(out) == [
        "en/hit@1", "en/hit@5", "en/mrr@10", "en/mean_tiou@10", "en/passages_per_hour"
    ]  # fmt: skip
    assert out["en/hit@5"] == 0.5
    assert seq.primary_metric == "en/hit@1"
    with pytest.raises(ValueError):
        ev.SequentialEvaluator([ev.HitAtK(1), ev.HitAtK(1)])(run)  # same key twice
    with pytest.raises(ValueError):
        ev.SequentialEvaluator([])


def test_empty_run_and_mismatched_lengths(ev):
    empty = ev.RetrievalRun([], [])
    assert ev.HitAtK(1)(empty) == {"hit@1": 0.0}
    assert ev.MRRAtK(10).per_query(empty).shape == (0,)
    with pytest.raises(ValueError):
        ev.RetrievalRun([[]], [])


def test_custom_evaluator_subclass(ev, run):
    class TopScore(ev.QueryEvaluator):
        name = "top_score"

        def score_query(self, ranking, gold):
            return ranking[0].score if ranking else 0.0

    assert TopScore()(run)["top_score"] == pytest.approx(np.mean([1.0, 1.0, 1.0, 0.0]))


# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "language", "words"),
    [
        (0, "en", "zero"),
        (13, "en", "thirteen"),
        (21, "en", "twenty one"),
        (105, "en", "one hundred five"),
        (2024, "en", "two thousand twenty four"),
        (9999, "en", "nine thousand nine hundred ninety nine"),
        (0, "es", "cero"),
        (16, "es", "dieciséis"),
        (21, "es", "veintiuno"),
        (34, "es", "treinta y cuatro"),
        (100, "es", "cien"),
        (101, "es", "ciento uno"),
        (500, "es", "quinientos"),
        (1000, "es", "mil"),
        (2345, "es", "dos mil trescientos cuarenta y cinco"),
        (0, "de", "null"),
        (1, "de", "eins"),
        (21, "de", "einundzwanzig"),
        (30, "de", "dreißig"),
        (101, "de", "einhunderteins"),
        (2024, "de", "zweitausendvierundzwanzig"),
        (9999, "de", "neuntausendneunhundertneunundneunzig"),
    ],
)
def test_number_to_words_and_back(ev, n, language, words):
    assert numbers.number_to_words(n, language) == words
    assert numbers.words_to_number(words, language) == n


def test_every_number_round_trips(ev):
    for language in ("en", "es", "de"):
        for n in range(10_000):
            assert numbers.words_to_number(numbers.number_to_words(n, language), language) == n


def test_words_to_number_variants(ev):
    assert numbers.words_to_number("One Hundred and Five", "en") == 105
    assert numbers.words_to_number("two thousand and six", "en") == 2006
    assert numbers.words_to_number("twenty one", "en") == 21
    assert numbers.words_to_number("veintiún", "es") == 21
    assert numbers.words_to_number("dieciseis", "es") == 16  # without the accent
    assert numbers.words_to_number("hundertzwei", "de") == 102
    assert numbers.words_to_number("tausendzweihundert", "de") == 1200
    assert numbers.words_to_number("dreissig", "de") == 30
    assert numbers.words_to_number("elephant", "en") is None
    with pytest.raises(ValueError):
        numbers.number_to_words(10_000)
    with pytest.raises(ValueError):
        numbers.number_to_words(3, "zh")  # spelled: en, es, de, fr, pt
    with pytest.raises(ValueError):
        numbers.words_to_number("trois", "fr")  # read back: en, es, de


# -- answers -----------------------------------------------------------------------------------


def test_normalize_answer_squad_rules(ev):
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("Los Broncos de Denver", "es") == "broncos de denver"
    assert normalize_answer("¿Die Broncos?", "de") == "broncos"
    assert normalize_answer("«El año»", "es") == "año"


def test_normalize_answer_numbers_as_digits_or_words(ev):
    assert normalize_answer("twenty-one pilots") == normalize_answer("21 pilots") == "21 pilots"
    assert normalize_answer("1,000 men") == normalize_answer("one thousand men") == "1000 men"
    assert normalize_answer("dos mil trescientos", "es") == "2300"
    assert normalize_answer("1.000 soldados", "es") == normalize_answer("mil soldados", "es")
    assert normalize_answer("Zweitausend Jahre", "de") == normalize_answer("2000 Jahre", "de")
    # a standalone "un"/"ein" is an article, not the number one
    assert normalize_answer("un perro", "es") == "perro"
    assert normalize_answer("ein Hund", "de") == "hund"
    assert normalize_answer("uno", "es") == "1"


def test_exact_match(ev):
    assert squad.exact_match("the Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    assert squad.exact_match("Broncos.", "broncos") == 1.0
    assert squad.exact_match("Denver", ["Denver Broncos"]) == 0.0
    assert squad.exact_match("seven", ["7"]) == 1.0
    assert squad.exact_match("siete", ["7"], "es") == 1.0
    assert squad.exact_match("sieben", ["7"], "de") == 1.0
    with pytest.raises(ValueError):
        squad.exact_match("x", [])


def test_f1(ev):
    assert squad.f1_score("Denver Broncos", ["Denver Broncos"]) == 1.0
    assert squad.f1_score("the Denver", ["Denver Broncos"]) == pytest.approx(2 / 3)  # p=1, r=1/2
    assert squad.f1_score("Carolina Panthers", ["Denver Broncos"]) == 0.0
    # best over ground truths
    assert squad.f1_score("Broncos", ["Denver Broncos", "Broncos"]) == 1.0
    # numbers in words match digits token by token
    assert squad.f1_score("about three hundred people", ["300 people"]) == pytest.approx(0.8)
    assert squad.f1_score("the", ["a"]) == 1.0  # both normalize to nothing (SQuAD's rule)
    assert squad.f1_score("the", ["Broncos"]) == 0.0


# -- word error rate ---------------------------------------------------------------------------


def _levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_edit_distance_matches_plain_dynamic_programming(ev):
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.integers(0, 4, size=rng.integers(0, 9)).astype(str).tolist()
        b = rng.integers(0, 4, size=rng.integers(0, 9)).astype(str).tolist()
        assert wer.edit_distance(a, b) == _levenshtein(a, b)


def test_word_error_rate(ev):
    assert wer.word_error_rate("the cat sat on the mat", "The cat sat on the mat.") == 0.0
    assert wer.word_error_rate("cat sat on mat", "cat sat mat") == 0.25  # one deletion
    assert wer.word_error_rate("cat sat", "cat sat down now") == 1.0  # two insertions
    assert wer.word_error_rate("twenty one cats", "21 cats") == 0.0  # numbers as digits
    assert wer.word_error_rate("", "") == 0.0
    assert wer.word_error_rate("", "x") == 1.0


# -- helpers of benchmarks/retrieval_stats.py that the report's numbers rest on ----------------


@pytest.fixture(scope="module")
def rt():
    import retrieval_stats

    return retrieval_stats


def _silhouette_by_hand(d, labels):
    values = []
    for i, li in enumerate(labels):
        same = [d[i][j] for j, lj in enumerate(labels) if lj == li and j != i]
        if not same:
            values.append(0.0)
            continue
        a = sum(same) / len(same)
        b = min(
            sum(d[i][j] for j, lj in enumerate(labels) if lj == other) / labels.count(other)
            for other in set(labels) - {li}
        )
        values.append((b - a) / max(a, b))
    return sum(values) / len(values)


def test_silhouette_matches_definition(rt):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 5))
    labels = rng.integers(0, 4, size=30).tolist()
    labels[0] = 9  # a cluster of one point scores 0
    d = rt.cosine_distances(x)
    assert rt.silhouette(d, labels) == pytest.approx(_silhouette_by_hand(d.tolist(), labels))
    # two tight, far-apart clusters: close to 1
    tight = np.array([[1, 0.01], [1, -0.01], [-1, 0.01], [-1, -0.01]])
    assert rt.silhouette(rt.cosine_distances(tight), [0, 0, 1, 1]) > 0.99
    assert np.isnan(rt.silhouette(d, [0] * 30))


def test_mean_nn_distance_and_pca(rt):
    x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    d = rt.cosine_distances(x)
    assert rt.mean_nn_distance(d) == pytest.approx((0 + 0 + 1) / 3)
    proj, var = rt.pca_2d(np.array([[0.0, 0, 0], [2, 0, 0], [4, 0, 0], [6, 0, 1]]))
    assert proj.shape == (4, 2) and var[0] > 0.9 and var.sum() == pytest.approx(1.0)


def test_separation_stats_threshold(rt):
    pos = np.array([0.5, 0.6, 0.7, 0.35])
    neg = np.array([0.1, 0.2, 0.3, 0.4])
    s = rt.separation_stats(pos, neg, current=0.2)
    assert s["auc"] == pytest.approx(15 / 16)  # only 0.35 < 0.4 is out of order
    assert s["best_accuracy"] == pytest.approx(7 / 8)
    assert 0.3 < s["best_accuracy_threshold"] <= 0.35
    assert s["current_kept"] == 1.0 and s["current_rejected"] == 0.25


def test_bootstrap_and_paired_difference(rt):
    values = np.array([1.0] * 50 + [0.0] * 50)
    lo, hi = stats.bootstrap_ci(values)
    assert lo < 0.5 < hi and hi - lo < 0.3
    same = stats.paired_difference(values, values)
    assert same == {"diff": 0.0, "lo": 0.0, "hi": 0.0}


def test_seconds_to_evidence_and_hit_within_seconds(ev, run):
    gold = ev.Gold("a", 100, 150)
    ranking = hits(ev, ("b", 0, 30), ("a", 0, 40), ("a", 90, 160))
    # 30 s + 40 s played, then 10 s into the third passage before the gold span starts
    assert ev.seconds_to_evidence(ranking, gold) == pytest.approx(80.0)
    assert ev.seconds_to_evidence(ranking, gold, k=2) is None
    assert ev.seconds_to_evidence(hits(ev, ("a", 120, 130)), gold) == 0.0
    assert ev.HitWithinSeconds(81)(ev.RetrievalRun([ranking], [gold])) == {"hit@81s": 1.0}
    assert ev.HitWithinSeconds(80)(ev.RetrievalRun([ranking], [gold])) == {"hit@80s": 0.0}
    # the shared fixture: query 1 at 0 s (12-22 over 10-20); query 2 after 10 + 10 s + 0 s
    assert ev.HitWithinSeconds(15).per_query(run).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert ev.HitWithinSeconds(25).per_query(run).tolist() == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        ev.HitWithinSeconds(0)


def test_recommended_chunker_prefers_listening_budget_among_ties(rt):
    key = rt.BUDGET_KEY
    per = {
        "long": {"hit@5": 0.95, "mrr@10": 0.90, key: 0.80},
        "tight": {"hit@5": 0.94, "mrr@10": 0.85, key: 0.93},
        "worse": {"hit@5": 0.80, "mrr@10": 0.70, key: 0.99},
    }
    versus = {
        "tight": {"hit@5": {"diff": 0.01, "lo": -0.01, "hi": 0.03}},  # tied with the winner
        "worse": {"hit@5": {"diff": 0.15, "lo": 0.10, "hi": 0.20}},  # clearly behind
    }
    assert rt.recommended_chunker(per, versus, "long") == "tight"
    assert rt.recommended_chunker(per, {}, "long") == "long"


def test_default_chunker_is_the_settings_own():
    import retrieval_index
    from mediarag.settings import Settings

    chunkers = {c.name: c for c in retrieval_index.chunkers(quick=False)}
    default = chunkers[retrieval_index.DEFAULT_CHUNKER]
    assert default.config == Settings().segmentation and default.kind == "semantic"
    assert "semantic-p5o2" not in chunkers  # the same configuration as the default: folded into it
    assert chunkers["window-30s"].describe() == "window_seconds=30.0, window_overlap=5.0"
    assert set(c.name for c in retrieval_index.chunkers(quick=True)) == {
        "semantic-default", "semantic-aws", "recursive-500", "window-30s"}  # fmt: skip


def test_rankings_through_the_store_and_retriever_are_exact_search(tmp_path):
    """The passages stage over cached transcripts, an index of the files, `DenseRetriever`: the
    same ranking as exact inner-product search over the passages."""
    from types import SimpleNamespace

    import retrieval_corpus
    import retrieval_index
    from mediarag.schema import Segment, Transcript
    from mediarag.segment import SegmentationConfig

    rng = np.random.default_rng(3)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    files, transcripts = [], SimpleNamespace(hashes={}, transcripts={}, sentences={})
    for article in range(3):
        path = tmp_path / f"{article:02d}.ogg"
        sentences = [Segment(start=4.0 * i, end=4.0 * i + 3.5, text=" ".join(rng.choice(words, 6)), language="en")
                     for i in range(8)]  # fmt: skip
        key = (str(path), "transcribe")
        transcripts.hashes[str(path)] = f"{article:064d}"
        transcripts.sentences[key] = sentences
        transcripts.transcripts[key] = Transcript(source=str(path), language="en", duration=40.0, segments=sentences)
        files.append(SimpleNamespace(path=path, article=article, duration=40.0, language="en"))
    chunker = retrieval_index.Chunker("window-10s", SegmentationConfig(method="window", window_seconds=10.0, window_overlap=2.0))
    embedder = _UnitEmbedder()
    ps = retrieval_index.passage_set(chunker, chunker.make(None), files, transcripts, "transcribe", retrieval_corpus.Timings())
    assert {p.article for p in ps.passages} == {0, 1, 2} and len(ps.passages) == len(ps.spans) > 6
    queries = [" ".join(rng.choice(words, 3)) for _ in range(12)]
    ranked = retrieval_index.rankings([ps], embedder, queries, 5, tmp_path / "index")
    vectors = embedder.embed_passages([p.text for p in ps.passages])
    for query, ranking in zip(queries, ranked):
        scores = vectors @ embedder.embed_queries([query])[0]
        best = np.argsort(-scores, kind="stable")[:5]
        assert [(h.source, h.start, h.end) for h in ranking] == [
            (ps.passages[i].source, ps.passages[i].start, ps.passages[i].end) for i in best]  # fmt: skip
        assert [h.score for h in ranking] == pytest.approx(scores[best].tolist(), abs=1e-5)


class _UnitEmbedder:
    """Random but fixed unit vectors per text (no model)."""

    name = "unit-embedder"
    dimension = 32
    min_score = 0.0

    def __init__(self):
        self.cache = {}

    def warm_up(self):
        pass

    def embed_passages(self, texts):
        rows = []
        for text in texts:
            if text not in self.cache:
                v = np.random.default_rng(abs(hash(text)) % 2**32).normal(size=self.dimension)
                self.cache[text] = (v / np.linalg.norm(v)).astype(np.float32)
            rows.append(self.cache[text])
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dimension)

    embed_queries = embed_passages
