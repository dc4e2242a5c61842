"""The statistics of the retrieval benchmark: metrics per configuration (with their per-question
values for bootstrap intervals), the similarity-threshold analysis, separation by article (what a
PCA plot suggests) and the rule that picks the recommended chunker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.retrieval_metrics import (
    Gold,
    HitAtK,
    HitWithinSeconds,
    MeanTemporalIoU,
    MRRAtK,
    PassagesPerHour,
    RankedHit,
    RetrievalRun,
    SequentialEvaluator,
    first_hit_rank,
)
from core.stats import bootstrap_ci, distribution, paired_difference, spearman
from core.text import normalize_answer
from core.wer import word_distance
from retrieval_index import DEFAULT_CHUNKER, Passage, PassageSet

K = 10
#: Listening budget of the hit@budget metric (seconds of retrieved audio played in rank order).
BUDGET = 120.0
BUDGET_KEY = f"hit@{BUDGET:g}s"
#: The metrics averaged over questions and languages in the summaries.
MEAN_METRICS = ("hit@1", "hit@5", "mrr@10", "mean_tiou@10", BUDGET_KEY)

EVALUATOR = SequentialEvaluator(
    [HitAtK(1), HitAtK(5), MRRAtK(10), MeanTemporalIoU(10), HitWithinSeconds(BUDGET, K), PassagesPerHour()]
)
#: Cross-lingual set-ups (English questions over other languages' audio, default chunker):
#: tag, label, the transcript tasks indexed, the embedder.
CROSS = (
    ("a", "transcribe + MiniLM", ("transcribe",), "minilm"),
    ("b", "translate at ingest + MiniLM", ("translate",), "minilm"),
    ("c", "transcribe + e5", ("transcribe",), "e5"),
    ("d", "transcript and translation both indexed + MiniLM", ("transcribe", "translate"), "minilm"),
    ("e", "translate at ingest + e5", ("translate",), "e5"),
)
PER_QUERY = {
    "hit@1": HitAtK(1),
    "hit@5": HitAtK(5),
    "mrr@10": MRRAtK(10),
    "tiou": MeanTemporalIoU(10),
    BUDGET_KEY: HitWithinSeconds(BUDGET, K),
}


@dataclass
class Result:
    """One evaluated configuration: metrics, their per-question values and passage statistics."""

    name: str
    language: str  # audio language
    query_language: str
    chunker: str
    embedder: str
    task: str
    metrics: dict[str, float]
    per_query: dict[str, np.ndarray]
    question_ids: list[str]
    ranks: list[int | None]
    passages: int
    lengths: dict[str, dict[str, float]] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        ci5 = bootstrap_ci(self.per_query["hit@5"])
        ci_mrr = bootstrap_ci(self.per_query["mrr@10"])
        return {
            "name": self.name,
            "language": self.language,
            "query_language": self.query_language,
            "chunker": self.chunker,
            "embedder": self.embedder,
            "task": self.task,
            "questions": len(self.question_ids),
            "passages": self.passages,
            **{k: round(v, 4) for k, v in self.metrics.items()},
            "hit@5_ci95": [round(ci5[0], 4), round(ci5[1], 4)],
            "mrr@10_ci95": [round(ci_mrr[0], 4), round(ci_mrr[1], 4)],
            "lengths": self.lengths,
            "ranks": dict(zip(self.question_ids, self.ranks)),
        }


def evaluate(
    name: str,
    sets: Sequence[PassageSet],
    rankings: Sequence[Sequence[RankedHit]],
    questions: Sequence[Any],
    golds: Sequence[Gold],
    *,
    query_language: str,
    embedder: str,
) -> Result:
    """The metrics of one configuration: ``rankings`` (one per question) over ``sets``."""
    passages = [p for ps in sets for p in ps.passages]
    first = sets[0]
    run = RetrievalRun(
        rankings=rankings,
        golds=list(golds),
        passages=[s for ps in sets for s in ps.spans],
        audio_seconds=first.audio_seconds,  # the same audio, indexed once or twice
    )
    return Result(
        name=name,
        language=first.language,
        query_language=query_language,
        chunker=first.chunker,
        embedder=embedder,
        task="+".join(ps.task for ps in sets),
        metrics=EVALUATOR(run),
        per_query={key: ev.per_query(run) for key, ev in PER_QUERY.items()},
        question_ids=[q.id for q in questions],
        ranks=[first_hit_rank(r, g, K) for r, g in zip(rankings, golds)],
        passages=len(passages),
        lengths={
            "chars": {k: round(v, 1) for k, v in distribution([len(p.text) for p in passages]).items()},
            "seconds": {k: round(v, 2) for k, v in distribution([p.end - p.start for p in passages]).items()},
        },
    )


def threshold_analysis(
    name: str,
    passages: Sequence[Passage],
    vectors: np.ndarray,
    query_vectors: np.ndarray,
    questions: Sequence[Any],
    *,
    current: float,
) -> dict[str, Any]:
    """Top-1 scores of answerable vs unanswerable questions, and the best separating threshold.

    Answerable: the question over the full index (its article is indexed). Unanswerable: the
    same question over the index without its article (leave one article out), so both sets hold
    the same questions and accuracy is balanced. Thresholds are swept over every score.
    """
    scores = query_vectors @ vectors.T  # exact cosine: unit vectors
    articles = np.array([p.article for p in passages])
    answerable = scores.max(axis=1)
    unanswerable = np.array(
        [scores[i, articles != q.article].max() for i, q in enumerate(questions)], dtype=np.float64
    )
    top1 = scores.argmax(axis=1)
    top1_right_article = np.array([articles[j] == q.article for j, q in zip(top1, questions)])
    # Two-fold cross-validation by article parity: choose on one half, test on the other.
    parity = np.array([q.article % 2 for q in questions])
    correct = 0
    for fold in (0, 1):
        train, test = parity != fold, parity == fold
        if not train.any() or not test.any():
            continue
        t = separation_stats(answerable[train], unanswerable[train], current)["best_accuracy_threshold"]
        correct += int((answerable[test] >= t).sum() + (unanswerable[test] < t).sum())
    cv_accuracy = correct / (2 * len(questions)) if len(set(parity.tolist())) == 2 else float("nan")
    return {
        "name": name,
        "questions": len(questions),
        "answerable": answerable.astype(float).tolist(),
        "unanswerable": unanswerable.astype(float).tolist(),
        "top1_right_article": float(top1_right_article.mean()),
        "cv_accuracy": round(cv_accuracy, 4),
        **separation_stats(answerable, unanswerable, current),
    }


def separation_stats(pos: np.ndarray, neg: np.ndarray, current: float) -> dict[str, Any]:
    """AUC, the accuracy-best and F1-best thresholds, and the current threshold's effect."""
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    # AUC = P(score of an answerable > score of an unanswerable), ties count one half.
    from scipy.stats import mannwhitneyu

    auc = float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))
    candidates = np.unique(np.concatenate([pos, neg]))
    mids = np.concatenate([[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2, [candidates[-1] + 1e-6]])
    tp = (pos[None, :] >= mids[:, None]).sum(axis=1)
    fp = (neg[None, :] >= mids[:, None]).sum(axis=1)
    tn = len(neg) - fp
    accuracy = (tp + tn) / (len(pos) + len(neg))
    precision = np.divide(tp, tp + fp, out=np.zeros(len(mids)), where=(tp + fp) > 0)
    recall = tp / len(pos)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(mids)), where=(precision + recall) > 0)
    best_acc = int(np.argmax(accuracy))
    best_f1 = int(np.argmax(f1))
    return {
        "auc": round(auc, 4),
        "answerable_median": round(float(np.median(pos)), 4),
        "unanswerable_median": round(float(np.median(neg)), 4),
        "best_accuracy_threshold": round(float(mids[best_acc]), 4),
        "best_accuracy": round(float(accuracy[best_acc]), 4),
        "best_accuracy_kept": round(float(recall[best_acc]), 4),
        "best_accuracy_rejected": round(float(tn[best_acc] / len(neg)), 4),
        "best_f1_threshold": round(float(mids[best_f1]), 4),
        "best_f1": round(float(f1[best_f1]), 4),
        "current_threshold": current,
        "current_kept": round(float((pos >= current).mean()), 4),
        "current_rejected": round(float((neg < current).mean()), 4),
        "current_accuracy": round(float(((pos >= current).sum() + (neg < current).sum()) / (len(pos) + len(neg))), 4),
    }


def cosine_distances(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - x @ x.T, 0.0, 2.0)


def silhouette(distances: np.ndarray, labels: Sequence[Any]) -> float:
    """Mean silhouette coefficient for a precomputed distance matrix (sklearn's definition).

    For each point: a = mean distance to the other points of its cluster, b = the smallest mean
    distance to the points of another cluster, s = (b - a) / max(a, b); points alone in their
    cluster score 0. Needs at least two clusters.
    """
    labels = np.asarray(labels)
    unique = np.unique(labels)
    if len(unique) < 2:
        return float("nan")
    member = labels[:, None] == unique[None, :]  # n x c
    sums = distances @ member  # n x c: total distance to each cluster
    counts = member.sum(axis=0).astype(np.float64)
    own = member.argmax(axis=1)
    n = len(labels)
    own_count = counts[own] - 1
    a = np.divide(sums[np.arange(n), own], own_count, out=np.zeros(n), where=own_count > 0)
    mean_other = sums / counts[None, :]
    mean_other[np.arange(n), own] = np.inf
    b = mean_other.min(axis=1)
    s = np.divide(b - a, np.maximum(a, b), out=np.zeros(n), where=np.maximum(a, b) > 0)
    s[own_count == 0] = 0.0
    return float(s.mean())


def mean_nn_distance(distances: np.ndarray) -> float:
    """Mean cosine distance from each passage to its nearest other passage."""
    d = distances.copy()
    np.fill_diagonal(d, np.inf)
    return float(d.min(axis=1).mean()) if len(d) > 1 else float("nan")


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection on the first two principal components and their explained-variance ratios."""
    x = np.asarray(x, dtype=np.float64)
    centered = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    var = s**2 / max(np.sum(s**2), 1e-12)
    return centered @ vt[:2].T, var[:2]


def same_language_summary(
    results: dict[str, Result], chunkers: Sequence[Any], languages: Sequence[str], separation_rows: Sequence[dict[str, Any]], emb: str
) -> dict[str, Any]:
    """Macro averages over languages per chunker, the winner and paired comparisons, for the
    configurations that embed with ``emb``, and whether separation by article predicts hit@5."""
    summary = {}
    for chunker in chunkers:
        rs = [results[f"{lang}/{chunker.name}/{emb}"] for lang in languages]
        summary[chunker.name] = {
            key: round(float(np.mean([r.metrics[key] for r in rs])), 4)
            for key in (*MEAN_METRICS, "passages_per_hour")
        }
        stacked = np.stack([r.per_query["hit@5"] for r in rs], axis=1)  # questions x languages
        summary[chunker.name]["hit@5_ci95"] = [round(v, 4) for v in bootstrap_ci(stacked)]
    ranking = sorted(summary, key=lambda c: (summary[c]["hit@5"], summary[c]["mrr@10"]), reverse=True)
    winner = ranking[0]

    def per_question(metric: str) -> dict[str, np.ndarray]:
        """Each chunker's per-question value of ``metric``, averaged over the languages."""
        return {
            c.name: np.stack([results[f"{lang}/{c.name}/{emb}"].per_query[metric] for lang in languages], axis=1).mean(1)
            for c in chunkers
        }

    compared = {metric: per_question(metric) for metric in ("hit@5", "mrr@10", BUDGET_KEY)}
    versus = {
        c: {
            metric: {k: round(v, 4) for k, v in paired_difference(values[winner], values[c]).items()}
            for metric, values in compared.items()
        }
        for c in ranking[1:]
    }
    by_budget = max(summary, key=lambda c: (summary[c][BUDGET_KEY], summary[c]["mrr@10"]))
    by_mrr = max(summary, key=lambda c: (summary[c]["mrr@10"], summary[c]["hit@5"]))
    by_tiou = max(summary, key=lambda c: summary[c]["mean_tiou@10"])
    default_vs = {}
    if DEFAULT_CHUNKER != winner:
        default_vs = versus[DEFAULT_CHUNKER]
    sep = {}
    for key in ("silhouette", "silhouette_pca2", "mean_nn_distance"):
        xs, ys = [], []
        pooled_x, pooled_y = [], []
        for c in chunkers:
            rows = [r for r in separation_rows if r["chunker"] == c.name]
            xs.append(float(np.mean([r[key] for r in rows])))
            ys.append(summary[c.name]["hit@5"])
            for r in rows:
                pooled_x.append(r[key])
                pooled_y.append(results[f"{r['language']}/{c.name}/{emb}"].metrics["hit@5"])
        by_sep = max(range(len(xs)), key=lambda i: xs[i])
        per_language = {}
        for lang in languages:
            rows = {r["chunker"]: r for r in separation_rows if r["language"] == lang}
            per_language[lang] = {
                metric: spearman(
                    [rows[c.name][key] for c in chunkers],
                    [results[f"{lang}/{c.name}/{emb}"].metrics[metric] for c in chunkers],
                )
                for metric in ("hit@5", "mrr@10", BUDGET_KEY)
            }
        sep[key] = {
            "macro": spearman(xs, ys),
            "pooled": spearman(pooled_x, pooled_y),
            "most_separated": chunkers[by_sep].name,
            "predicts_winner": chunkers[by_sep].name == winner,
            "per_language": per_language,
        }
    return {"per_chunker": summary, "ranking": ranking, "winner": winner, "versus_winner": versus,
            "default_vs_winner": default_vs, "separation_vs_hit5": sep,
            "best_by": {"hit@5": winner, BUDGET_KEY: by_budget, "mrr@10": by_mrr, "mean_tiou@10": by_tiou},
            "recommended": recommended_chunker(summary, versus, winner)}  # fmt: skip


def recommended_chunker(per: dict[str, Any], versus: dict[str, Any], winner: str) -> str:
    """The rule the default chunker is chosen by: among the chunkers whose hit@5 is not
    distinguishable from the hit@5 winner's (paired bootstrap), the one that reaches the gold
    moment within the listening budget most often (hit@120s; ties: MRR@10). hit@k alone would
    pick ever longer passages, which cite a wider stretch of the file than the answer needs."""
    tied = [winner] + [name for name, v in versus.items() if not v["hit@5"]["lo"] > 0]
    return max(tied, key=lambda name: (per[name][BUDGET_KEY], per[name]["mrr@10"]))


def cross_lingual_summary(results: dict[str, Result], cross_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each cross-lingual set-up's metrics, averaged over the non-English languages."""
    out: dict[str, Any] = {}
    for tag, label, *_ in CROSS:
        rows = [results[r["name"]] for r in cross_rows if r["config"] == tag]
        if rows:
            out[tag] = {"label": label} | {k: round(float(np.mean([r.metrics[k] for r in rows])), 4) for k in MEAN_METRICS}
    return out


def corpus_summary(bench: Any) -> dict[str, Any]:
    """What the report says about the corpus of a run (``bench``: the `retrieval.Benchmark`)."""
    langs = bench.languages
    detected: dict[str, dict[str, int]] = {}
    whisper_sentences = {}
    for lang in langs:
        counts: dict[str, int] = defaultdict(int)
        n = 0
        for f in bench.files[lang]:
            counts[bench.transcripts.detected[(str(f.path), "transcribe")]] += 1
            n += len(bench.transcripts.sentences[(str(f.path), "transcribe")])
        detected[lang] = dict(counts)
        whisper_sentences[lang] = n
    para_seconds = [p.end - p.start for lang in langs for f in bench.files[lang] for p in f.paragraphs]
    with bench.timings.step("word error rates"):
        wer = transcript_wer(bench)
    return {
        "root": str(bench.corpus.root),
        "articles": bench.articles,
        "languages": langs,
        "questions": len(bench.questions),
        "files": {lang: len(bench.files[lang]) for lang in langs},
        "hours": {lang: round(bench.corpus_hours(lang), 3) for lang in langs},
        "reference_sentences": {
            lang: sum(len(p.sentences) for f in bench.files[lang] for p in f.paragraphs) for lang in langs
        },
        "whisper_sentences": whisper_sentences,
        "detected": detected,
        "paragraph_seconds": distribution(para_seconds),
        "wer": wer,
    }


def transcript_wer(bench: Any) -> dict[str, dict[str, float]]:
    """Corpus-level WER of the Whisper transcripts against the text that was read aloud.

    ``transcribe``: against the file's own text. ``translate``: against the English XQuAD text of
    the same article (a professional translation, so this only roughly tracks translation
    quality). Both sides normalized as in SQuAD (`core.text.normalize_answer`: numbers as digits,
    no articles), so these figures are not on the scale of benchmarks/asr.py's.
    """
    english = {f.article: f for f in bench.files.get("en", [])}
    out: dict[str, dict[str, float]] = {}
    for lang in bench.languages:
        for task in ("transcribe", "translate"):
            if task == "translate" and (lang == "en" or not bench.translate):
                continue
            errors = words = 0
            for f in bench.files[lang]:
                ref_file = f if task == "transcribe" else english.get(f.article)
                if ref_file is None:
                    continue
                ref_lang = lang if task == "transcribe" else "en"
                reference = " ".join(p.text for p in ref_file.paragraphs)
                hypothesis = " ".join(s.text for s in bench.transcripts.sentences[(str(f.path), task)])
                e, n = word_distance(reference, hypothesis, ref_lang, normalize=normalize_answer)
                errors += e
                words += n
            if words:
                out.setdefault(lang, {})[task] = round(errors / words, 4)
    return out
