#!/usr/bin/env python
"""Hybrid retrieval on spoken XQuAD: dense vs keyword vs fused, and when to say "I don't know".

    python benchmarks/hybrid.py [--articles 24] [--out benchmarks/results] [--only quality|speed]

Quality (``--only quality``): the XQuAD articles read by espeak-ng (benchmarks/spoken_xquad.py,
built on first use) with the Whisper base transcripts that ship in benchmarks/transcripts/ (no
ASR pass). Every file goes through mediarag's own passages stage with the default segmenter and
embedder (multilingual-e5-small; embeddings cached under benchmarks/.cache/hybrid/), into a real
`FaissStore` per language, committed, with its keyword data. Questions are asked through the real
retrievers (`DenseRetriever` semantics, `HybridRetriever` in hybrid and keyword mode) in five
set-ups: en, es, de questions over speech of their language, and English questions over Spanish
and over German speech.

- hit@1, hit@5, MRR@10 (a passage of the gold file overlapping the gold paragraph), with 95 %
  bootstrap intervals over questions, per set-up and mode; fusion parameters (``rrf_k``, keyword
  weight) are chosen on the first half of the articles (dev) and reported on the second (test).
- Abstention: each question is asked again over the index without its article (the answer is
  absent). Features of the evidence (`mediarag.retrieve.hybrid.Evidence`: best cosine, best
  relative keyword score, whether both searches agree, whether the question is in another
  language than the best passage, ...) are fed to a logistic model, fit leave-one-article-out; the curve of answerable
  questions kept against unanswerable ones refused, with bootstrap intervals, is compared with
  the dense cosine threshold, and the default threshold is the one that keeps 90 % of answerable
  questions (pooled over set-ups).
- Index size: bytes of the vectors, metadata and keyword files of each language's index.

Speed (``--only speed``): ``MediaQA.ask`` p50/p95 over 10,000 passages (2,000 real XQuAD passages
embedded, tiled to 10,000 with noisy vectors and renamed sources), hybrid against dense, on one
thread (``OMP_NUM_THREADS=1``, e5 with one thread), with the keyword index built first.

Writes ``<out>/hybrid.md`` and ``<out>/hybrid.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import atexit  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

CACHE = HERE / ".cache" / "hybrid"
CORPUS_ROOT = HERE / ".cache" / "spoken_xquad"
SHIPPED = HERE / "transcripts"
LANGUAGES = ("en", "es", "de")
SETUPS = (("en", "en"), ("es", "es"), ("de", "de"), ("en", "es"), ("en", "de"))  # (question, speech)
DEPTH = 50
K_MRR = 10
BOOTSTRAP = 2000
SEED = 0
_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Embeddings, cached by text
# ---------------------------------------------------------------------------------------------


class CachedEmbedder:
    """An embedder whose vectors are kept on disk by (side, text): re-runs embed nothing."""

    def __init__(self, embedder: Any, path: Path) -> None:
        self.inner = embedder
        self.path = path
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.min_score = getattr(embedder, "min_score", -1.0)
        self._rows: dict[str, np.ndarray] = {}
        self._dirty = False
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                self._rows = dict(zip(data["keys"].tolist(), data["vectors"]))

    def warm_up(self) -> None:
        self.inner.warm_up()

    def _embed(self, side: str, texts: Sequence[str]) -> np.ndarray:
        keys = [hashlib.sha1(f"{side}\0{t}".encode()).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self._rows}.items())
        if todo:
            fn = self.inner.embed_queries if side == "q" else self.inner.embed_passages
            for i in range(0, len(todo), 256):
                part = todo[i : i + 256]
                for (key, _), row in zip(part, fn([t for _, t in part])):
                    self._rows[key] = np.asarray(row, np.float32)
            self._dirty = True
        if not texts:
            return np.zeros((0, self.dimension), np.float32)
        return np.stack([self._rows[k] for k in keys]).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("q", texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("p", texts)

    def save(self) -> None:
        if self._dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = sorted(self._rows)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, keys=np.asarray(keys), vectors=np.stack([self._rows[k] for k in keys]))
            os.replace(tmp, self.path)
            self._dirty = False


# ---------------------------------------------------------------------------------------------
# Corpus and indexes
# ---------------------------------------------------------------------------------------------


def shipped_transcripts() -> dict[str, dict]:
    """The shipped Whisper base transcripts (task transcribe), by file path ``lang/NN-slug.ogg``."""
    out = {}
    for path in sorted(SHIPPED.glob("*-transcribe-*.json.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        out[data["file"]] = data
    return out


@dataclass
class Indexed:
    """One language's index and what the benchmark needs to score it."""

    language: str
    store: Any
    directory: Path
    sources: dict[int, str]  # article -> source
    golds: dict[str, tuple[str, float, float]]  # question id -> (source, start, end)
    passages: int
    bytes: dict[str, int] = field(default_factory=dict)


def gold_spans(corpus: Any, files: dict[int, Any]) -> dict[str, tuple[str, float, float]]:
    """Where each question's answer paragraph is spoken: question id -> (file, start, end), for
    the questions of the articles in ``files`` (article -> spoken file)."""
    golds = {}
    for q in corpus.questions:
        if q.article in files:
            f = files[q.article]
            p = next(x for x in f.paragraphs if x.index == q.paragraph)
            golds[q.id] = (str(f.path), p.start, p.end)
    return golds


def build_index(corpus: Any, language: str, articles: int, embedder: CachedEmbedder, root: Path) -> Indexed:
    from mediarag.pipeline.item import MediaFile
    from mediarag.pipeline.stages import Passages
    from mediarag.schema import Transcript
    from mediarag.segment import make_segmenter
    from mediarag.settings import Settings
    from mediarag.store import FaissStore

    transcripts = shipped_transcripts()
    segmenter = make_segmenter(Settings().segmentation, embedder)
    store = FaissStore(root / language, embedder_name=embedder.name)
    sources: dict[int, str] = {}
    files = {f.article: f for f in corpus.files if f.language == language and f.article < articles}
    for article, f in sorted(files.items()):
        rel = f"{language}/{f.path.name}"
        data = transcripts.get(rel)
        if data is None:
            raise SystemExit(f"no shipped transcript for {rel} in {SHIPPED}")
        transcript = Transcript.model_validate(data["transcript"])
        source = str(f.path)
        item = MediaFile(path=f.path, source=source, sha256=data["key"]["sha256"], transcript=transcript)
        item.sentences = list(transcript.segments)
        Passages(segmenter).run(item)
        vectors = embedder.embed_passages([c.text for c in item.passages])
        store.add_source(item.info(), item.stored_transcript(), item.passages, vectors)
        sources[article] = source
    store.commit()
    embedder.save()
    golds = gold_spans(corpus, files)
    sizes: dict[str, int] = {"vectors": 0, "metadata": 0, "keywords": 0, "transcripts": 0}
    for path in (root / language).rglob("*"):
        if not path.is_file():
            continue
        kind = ("keywords" if path.name.endswith(".terms.npz") else "vectors" if path.suffix == ".faiss"
                else "transcripts" if path.parent.name == "transcripts" else "metadata")  # fmt: skip
        sizes[kind] += path.stat().st_size
    return Indexed(language, store, root / language, sources, golds, len(store), sizes)


# ---------------------------------------------------------------------------------------------
# Rankings
# ---------------------------------------------------------------------------------------------


@dataclass
class Asked:
    """What both searches returned for one question over one index (answerable or not)."""

    qid: str
    article: int
    dense: list[tuple[str, float, float, float]]  # (source, start, end, cosine), best first
    keyword: list[tuple[str, float, float, float]]  # (source, start, end, relative BM25)
    chunk_ids: tuple[list[str], list[str]] = ((), ())  # type: ignore[assignment]
    keyword_cosines: list[float] = field(default_factory=list)  # cosine of each keyword hit
    missing: float = 0.0  # share of the question's term weight that no passage holds
    cross_language: bool = False  # the question is in another language than the best passage


def ask_all(indexed: Indexed, questions: Sequence[Any], qlang: str, embedder: CachedEmbedder, leave_out: bool) -> list[Asked]:
    """Both rankings of every question; ``leave_out``: over the index without its article."""
    from mediarag.retrieve.hybrid import is_cross_language

    vectors = embedder.embed_queries([q.question[qlang] for q in questions])
    stored = {}
    for source in indexed.store.sources():
        for chunk, row in zip(indexed.store.chunks(source), indexed.store.vectors(source)):
            stored[chunk.id] = row
    by_article: dict[int, list[int]] = {}
    for i, q in enumerate(questions):
        by_article.setdefault(q.article, []).append(i)
    out: list[Asked | None] = [None] * len(questions)
    for article, rows in sorted(by_article.items()):
        if leave_out:
            indexed.store.delete_source(indexed.sources[article])
        keywords = indexed.store.keyword_index()
        for i in rows:
            q = questions[i]
            text = q.question[qlang]
            dense = indexed.store.search(vectors[i], k=DEPTH)
            keyword = indexed.store.keyword_search(text, DEPTH)
            out[i] = Asked(
                q.id, q.article,
                [(h.chunk.source, h.chunk.start, h.chunk.end, h.score) for h in dense],
                [(h.chunk.source, h.chunk.start, h.chunk.end, h.score) for h in keyword],
                ([h.chunk.id for h in dense], [h.chunk.id for h in keyword]),
                [float(stored[h.chunk.id] @ vectors[i]) for h in keyword],
                keywords.missing(text),
                bool((dense or keyword) and is_cross_language(text, (dense or keyword)[0].chunk)),
            )  # fmt: skip
        if leave_out:
            indexed.store.rollback()
    return out  # type: ignore[return-value]


def fused_ranking(asked: Asked, rrf_k: float, weight: float, floor: float = 0.0) -> list[tuple[str, float, float, float]]:
    """Reciprocal-rank fusion (the product's `fuse`) of the two rankings; keyword hits whose
    relative score is under ``floor`` are left out first."""
    from mediarag.retrieve.hybrid import fuse

    dense, keyword = _hits(asked)
    fused = fuse(dense, [h for h in keyword if h.score >= floor], rrf_k=rrf_k, keyword_weight=weight)
    return [(c.chunk.source, c.chunk.start, c.chunk.end, c.fused) for c in fused]


_HITS: dict[int, tuple[list, list]] = {}


def _hits(asked: Asked) -> tuple[list, list]:
    """Both rankings as `Hit`s (made once per question: the fusion grid reuses them)."""
    from mediarag.schema import Chunk, Hit

    if id(asked) not in _HITS:
        def hits(rows: list, ids: list[str]) -> list[Hit]:
            return [Hit.model_construct(chunk=Chunk.model_construct(id=cid, source=s, start=a, end=b, text=""), score=sc)
                    for cid, (s, a, b, sc) in zip(ids, rows)]  # fmt: skip

        _HITS[id(asked)] = (hits(asked.dense, asked.chunk_ids[0]), hits(asked.keyword, asked.chunk_ids[1]))
    return _HITS[id(asked)]


def weighted_ranking(asked: Asked, weight: float) -> list[tuple[str, float, float, float]]:
    """Linear fusion: cosine + weight x relative keyword score, over both candidate lists (the
    cosine of a keyword hit outside the dense list is its exact cosine)."""
    rows: dict[str, list] = {}
    for cid, (s, a, b, cos) in zip(asked.chunk_ids[0], asked.dense):
        rows[cid] = [s, a, b, cos, 0.0]
    for cid, (s, a, b, rel), cos in zip(asked.chunk_ids[1], asked.keyword, asked.keyword_cosines):
        rows.setdefault(cid, [s, a, b, cos, 0.0])[4] = rel
    ranked = sorted(rows.values(), key=lambda r: -(r[3] + weight * r[4]))
    return [(s, a, b, cos + weight * rel) for s, a, b, cos, rel in ranked]


def first_hit(ranking: Sequence[tuple[str, float, float, float]], gold: tuple[str, float, float], k: int) -> int | None:
    source, start, end = gold
    for rank, (s, a, b, _) in enumerate(ranking[:k], 1):
        if s == source and min(b, end) > max(a, start):
            return rank
    return None


def metrics(ranks: Sequence[int | None]) -> dict[str, Any]:
    hit1 = np.array([r == 1 for r in ranks], float)
    hit5 = np.array([r is not None and r <= 5 for r in ranks], float)
    rr = np.array([1.0 / r if r is not None and r <= K_MRR else 0.0 for r in ranks])
    return {
        "n": len(ranks),
        "hit@1": float(hit1.mean()), "hit@1_ci": bootstrap(hit1),
        "hit@5": float(hit5.mean()), "hit@5_ci": bootstrap(hit5),
        "mrr@10": float(rr.mean()), "mrr@10_ci": bootstrap(rr),
    }  # fmt: skip


def bootstrap(values: np.ndarray, n: int = BOOTSTRAP) -> list[float]:
    if not len(values):
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(SEED)
    means = values[rng.integers(0, len(values), size=(n, len(values)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def paired(a: np.ndarray, b: np.ndarray, n: int = BOOTSTRAP) -> list[float]:
    rng = np.random.default_rng(SEED)
    idx = rng.integers(0, len(a), size=(n, len(a)))
    d = (a[idx] - b[idx]).mean(axis=1)
    return [float(a.mean() - b.mean()), float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]


# ---------------------------------------------------------------------------------------------
# Abstention
# ---------------------------------------------------------------------------------------------


def features(asked: Asked) -> list[float]:
    """The product's evidence figures (`mediarag.retrieve.hybrid.Evidence`, in `FEATURES` order)."""
    from mediarag.retrieve.hybrid import Evidence

    agree = bool(asked.dense and asked.keyword and asked.chunk_ids[0][0] == asked.chunk_ids[1][0])
    dense, keyword = [d[3] for d in asked.dense], [k[3] for k in asked.keyword]
    sources = [d[0] for d in asked.dense]
    return Evidence.of([], dense, keyword, agree, asked.missing, asked.cross_language, sources).features()


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iterations: int = 50) -> np.ndarray:
    """Logistic regression by Newton's method (features standardized inside; weights returned
    on the raw features, intercept first)."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    w = np.zeros(z.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        grad = z.T @ (p - y) + l2 * np.r_[0.0, w[1:]]
        hess = (z.T * (p * (1 - p))) @ z + l2 * np.diag(np.r_[0.0, np.ones(len(w) - 1)])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    raw = np.r_[w[0] - np.sum(w[1:] * mean / std), w[1:] / std]
    return raw


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(w[0] + x @ w[1:])))


def curve(pos: np.ndarray, neg: np.ndarray, thresholds: np.ndarray) -> list[dict[str, float]]:
    return [{"threshold": float(t), "kept": float((pos >= t).mean()), "rejected": float((neg < t).mean())}
            for t in thresholds]  # fmt: skip


def threshold_for(pos: np.ndarray, kept: float) -> float:
    """The highest threshold that keeps at least ``kept`` of ``pos``."""
    return float(np.quantile(pos, 1.0 - kept, method="lower"))


# ---------------------------------------------------------------------------------------------
# The quality benchmark
# ---------------------------------------------------------------------------------------------


#: The product's default fusion weight (mediarag.retrieve.hybrid.KEYWORD_WEIGHT["weighted"]).
PRODUCT_WEIGHT = __import__("mediarag.retrieve.hybrid", fromlist=["KEYWORD_WEIGHT"]).KEYWORD_WEIGHT["weighted"]


def quality(args: argparse.Namespace) -> dict[str, Any]:
    import spoken_xquad
    from mediarag.embed import make_embedder
    from mediarag.settings import Settings

    corpus = spoken_xquad.load(CORPUS_ROOT) if (CORPUS_ROOT / "manifest.json").is_file() else None
    if corpus is None or len(corpus.files) < args.articles * len(LANGUAGES):
        log("building spoken XQuAD (espeak-ng)")
        corpus = spoken_xquad.build(languages=LANGUAGES, articles=args.articles, root=CORPUS_ROOT, progress=False)
    questions = [q for q in corpus.questions if q.article < args.articles]
    embedder = CachedEmbedder(make_embedder(Settings().embedding), CACHE / "embeddings-e5.npz")
    tmp = Path(tempfile.mkdtemp(prefix="hybrid-bench-"))
    atexit.register(shutil.rmtree, tmp, True)  # the indexes are scratch
    indexes = {}
    for lang in LANGUAGES:
        log(f"index {lang}: passages, embeddings, commit")
        indexes[lang] = build_index(corpus, lang, args.articles, embedder, tmp)
        log(f"  {indexes[lang].passages} passages, sizes {indexes[lang].bytes}")
    asked: dict[str, dict[str, list[Asked]]] = {}
    for qlang, slang in SETUPS:
        name = qlang if qlang == slang else f"{qlang}->{slang}"
        log(f"set-up {name}: {len(questions)} questions, answerable and article left out")
        asked[name] = {
            "answerable": ask_all(indexes[slang], questions, qlang, embedder, leave_out=False),
            "unanswerable": ask_all(indexes[slang], questions, qlang, embedder, leave_out=True),
        }
        embedder.save()
    golds = {name: indexes[name.split("->")[-1]].golds for name in asked}
    save_asked(asked, golds, CACHE / f"asked-{args.articles}.json")
    dev = {q.id for q in questions if q.article < args.articles // 2}

    # Fusion parameters chosen on dev (mean hit@1 over set-ups), reported on test and on all.
    grid = [(rk, w) for rk in (5.0, 10.0, 20.0, 60.0) for w in (0.3, 0.5, 0.75, 1.0)]

    def ranks(name: str, mode: str, rk: float = 60.0, w: float = 1.0, only: set[str] | None = None,
              floor: float = 0.0) -> list[int | None]:  # fmt: skip
        out = []
        for a in asked[name]["answerable"]:
            if only is not None and a.qid not in only:
                continue
            if mode == "dense":
                ranking = a.dense
            elif mode == "keyword":
                ranking = a.keyword
            elif mode == "weighted":
                ranking = weighted_ranking(a, w)
            else:
                ranking = fused_ranking(a, rk, w, floor)
            out.append(first_hit(ranking, golds[name][a.qid], K_MRR))
        return out

    def dev_scores(mode: str, rk: float, w: float, floor: float) -> tuple[float, float]:
        per = [ranks(n, mode, rk, w, dev, floor) for n in asked]
        return (float(np.mean([np.mean([r == 1 for r in rs]) for rs in per])),
                float(np.mean([np.mean([1 / r if r else 0 for r in rs]) for rs in per])))  # fmt: skip

    tuning = []
    for rk, w in grid:
        for floor in (0.0, 0.1, 0.2):
            h1, mrr = dev_scores("hybrid", rk, w, floor)
            tuning.append({"fusion": "rrf", "rrf_k": rk, "keyword_weight": w, "floor": floor,
                           "dev_hit@1": h1, "dev_mrr@10": mrr})  # fmt: skip
    for w in (0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3):
        h1, mrr = dev_scores("weighted", 0.0, w, 0.0)
        tuning.append({"fusion": "weighted", "rrf_k": 0.0, "keyword_weight": w, "floor": 0.0,
                       "dev_hit@1": h1, "dev_mrr@10": mrr})  # fmt: skip
    best = max((t for t in tuning if t["fusion"] == "rrf"), key=lambda t: (t["dev_hit@1"], t["dev_mrr@10"]))
    best_weighted = max((t for t in tuning if t["fusion"] == "weighted"), key=lambda t: (t["dev_hit@1"], t["dev_mrr@10"]))
    log(f"fusion chosen on dev: rrf_k={best['rrf_k']}, keyword_weight={best['keyword_weight']}, floor={best['floor']} "
        f"(dev hit@1 {best['dev_hit@1']:.3f}); weighted best w={best_weighted['keyword_weight']} "
        f"(dev hit@1 {best_weighted['dev_hit@1']:.3f})")  # fmt: skip
    test = {q.id for q in questions} - dev
    results: dict[str, Any] = {}
    for name in asked:
        results[name] = {}
        for split, only in (("all", None), ("test", test)):
            row = {}
            for mode, kind, rk, w, floor in (
                ("dense", "dense", 0, 0, 0), ("keyword", "keyword", 0, 0, 0), ("rrf60", "hybrid", 60.0, 1.0, 0.0),
                ("rrf", "hybrid", best["rrf_k"], best["keyword_weight"], best["floor"]),
                ("hybrid", "weighted", 0, PRODUCT_WEIGHT, 0),
            ):  # fmt: skip
                row[mode] = metrics(ranks(name, kind, rk, w, only, floor))
            d = np.array([r == 1 for r in ranks(name, "dense", only=only)], float)
            h = np.array([r == 1 for r in ranks(name, "weighted", 0, PRODUCT_WEIGHT, only)], float)
            row["hybrid_minus_dense_hit@1"] = paired(h, d)
            results[name][split] = row

    abstention = abstention_analysis(asked, golds, questions, args.articles)
    return {
        "articles": args.articles,
        "questions": len(questions),
        "passages": {lang: ix.passages for lang, ix in indexes.items()},
        "index_bytes": {lang: ix.bytes for lang, ix in indexes.items()},
        "fusion_grid": tuning,
        "fusion": best,
        "weighted": best_weighted,
        "product_weight": PRODUCT_WEIGHT,
        "results": results,
        "abstention": abstention,
    }


def save_asked(asked: dict, golds: dict, path: Path) -> None:
    """Both rankings of every question, for re-running the analysis without the indexes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {name: {label: [a.__dict__ for a in items] for label, items in parts.items()} for name, parts in asked.items()}
    path.write_text(json.dumps({"asked": data, "golds": golds}))


def load_asked(path: Path) -> tuple[dict, dict]:
    data = json.loads(path.read_text())
    asked = {name: {label: [Asked(**{**a, "chunk_ids": tuple(a["chunk_ids"])}) for a in items] for label, items in parts.items()}
             for name, parts in data["asked"].items()}  # fmt: skip
    golds = {name: {q: tuple(g) for q, g in per.items()} for name, per in data["golds"].items()}
    return asked, golds


def abstention_analysis(asked: dict, golds: dict, questions: Sequence[Any], articles: int) -> dict[str, Any]:
    """Leave-one-article-out logistic model on the evidence, against the dense cosine rule."""
    rows = []  # (setup, article, answerable, features)
    for name, parts in asked.items():
        for label, value in (("answerable", 1.0), ("unanswerable", 0.0)):
            for a in parts[label]:
                rows.append((name, a.article, value, features(a)))
    x = np.array([r[3] for r in rows])
    y = np.array([r[2] for r in rows])
    art = np.array([r[1] for r in rows])
    setup = np.array([r[0] for r in rows])
    cv = np.zeros(len(rows))
    for a in range(articles):
        train, held = art != a, art == a
        if held.any():
            cv[held] = predict(fit_logistic(x[train], y[train]), x[held])
    full = fit_logistic(x, y)
    pos, neg = cv[y == 1], cv[y == 0]
    kept_target = 0.90
    t_conf = threshold_for(pos, kept_target)
    dpos, dneg = x[y == 1, 0], x[y == 0, 0]
    t_cos = threshold_for(dpos, kept_target)
    rng = np.random.default_rng(SEED)

    def ci(values: np.ndarray, t: float, keep: bool) -> list[float]:
        stat = (values >= t) if keep else (values < t)
        return bootstrap(stat.astype(float))

    per_setup = {}
    for name in asked:
        m = setup == name
        per_setup[name] = {
            "kept": float((cv[m & (y == 1)] >= t_conf).mean()),
            "rejected": float((cv[m & (y == 0)] < t_conf).mean()),
            "dense_kept": float((x[m & (y == 1), 0] >= t_cos).mean()),
            "dense_rejected": float((x[m & (y == 0), 0] < t_cos).mean()),
            "dense_0.78_kept": float((x[m & (y == 1), 0] >= 0.78).mean()),
            "dense_0.78_rejected": float((x[m & (y == 0), 0] < 0.78).mean()),
        }
    del rng
    grid = np.unique(np.quantile(pos, np.linspace(0.0, 0.5, 26)))
    return {
        "features": list(__import__("mediarag.retrieve.hybrid", fromlist=["FEATURES"]).FEATURES),
        "model_all_articles": full.tolist(),
        "threshold": t_conf,
        "kept": float((pos >= t_conf).mean()), "kept_ci": ci(pos, t_conf, True),
        "rejected": float((neg < t_conf).mean()), "rejected_ci": ci(neg, t_conf, False),
        "dense_threshold": t_cos,
        "dense_kept": float((dpos >= t_cos).mean()), "dense_kept_ci": ci(dpos, t_cos, True),
        "dense_rejected": float((dneg < t_cos).mean()), "dense_rejected_ci": ci(dneg, t_cos, False),
        "dense_0.78_kept": float((dpos >= 0.78).mean()), "dense_0.78_rejected": float((dneg < 0.78).mean()),
        "per_setup": per_setup,
        "curve": curve(pos, neg, grid),
        "dense_curve": curve(dpos, dneg, np.unique(np.quantile(dpos, np.linspace(0.0, 0.5, 26)))),
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def ci_cell(r: dict, key: str) -> str:
    lo, hi = r[f"{key}_ci"]
    return f"{r[key]:.3f} [{lo:.3f}, {hi:.3f}]"


def report(data: dict[str, Any], command: str) -> str:
    lines = ["# Hybrid retrieval on spoken XQuAD", "", f"Command: `{command}`  ",
             f"Date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}, {data.get('seconds', 0):.0f} s", ""]  # fmt: skip
    q = data.get("quality")
    if q:
        f = q["fusion"]
        lines += [
            f"{q['articles']} articles, {q['questions']} questions per set-up; passages per language: "
            + ", ".join(f"{k} {v}" for k, v in q["passages"].items()) + ".",
            "",
            f"'hybrid' is mediarag's default fusion: cosine + {q['product_weight']:g} x relative keyword score "
            f"(the weight best on the first {q['articles'] // 2} articles, dev, mean hit@1 over the set-ups, was "
            f"{q['weighted']['keyword_weight']:g}). 'rrf' is reciprocal-rank fusion with the parameters best on dev "
            f"(rrf_k = {f['rrf_k']:g}, keyword weight {f['keyword_weight']:g}, keyword hits under a relative score of "
            f"{f['floor']:g} left out); 'rrf60' the textbook setting (rrf_k 60, equal weights).",
            "",
        ]
        for split in ("all", "test"):
            lines += [f"### {'All articles' if split == 'all' else 'Test articles (second half, not used for tuning)'}", "",
                      "| set-up | mode | hit@1 [95 % CI] | hit@5 [95 % CI] | MRR@10 |", "|---|---|---|---|---|"]  # fmt: skip
            for name, per in q["results"].items():
                row = per[split]
                for mode in ("dense", "keyword", "rrf60", "rrf", "hybrid"):
                    r = row[mode]
                    lines.append(f"| {name} | {mode} | {ci_cell(r, 'hit@1')} | {ci_cell(r, 'hit@5')} | {r['mrr@10']:.3f} |")
                d, lo, hi = row["hybrid_minus_dense_hit@1"]
                lines.append(f"| {name} | hybrid - dense, hit@1 | {d:+.3f} [{lo:+.3f}, {hi:+.3f}] | | |")
            lines.append("")
        a = q["abstention"]
        lines += [
            "### I don't know", "",
            "Each question over its index (answerable) and over the index without its article "
            "(unanswerable). Hybrid: logistic model on the evidence of both searches (`Evidence`: best cosine, "
            "its gap to the passages ranked 11th and below, how far it stands out from the other candidates, the "
            "best relative keyword score, whether both searches put the same passage first, the share of the "
            "question's term weight no passage holds, whether the question's function words are of another "
            "language than the best passage, the share of the 5 best passages by meaning from the best one's file), fit leave-one-article-out; threshold set to keep 90 % of "
            "answerable questions, pooled over the set-ups. Dense: the best cosine alone.",
            "",
            "| rule | threshold | answerable kept [95 % CI] | unanswerable refused [95 % CI] |", "|---|---|---|---|",
            f"| hybrid evidence | {a['threshold']:.3f} | {ci_cell(a, 'kept')} | {ci_cell(a, 'rejected')} |",
            f"| dense cosine, same 90 % | {a['dense_threshold']:.3f} | {ci_cell(a, 'dense_kept')} | {ci_cell(a, 'dense_rejected')} |",
            f"| dense cosine 0.78 (the e5 default) | 0.780 | {a['dense_0.78_kept']:.3f} | {a['dense_0.78_rejected']:.3f} |",
            "",
            "| set-up | hybrid kept | hybrid refused | dense kept | dense refused |", "|---|---|---|---|---|",
        ]  # fmt: skip
        for name, r in a["per_setup"].items():
            lines.append(f"| {name} | {r['kept']:.3f} | {r['rejected']:.3f} | {r['dense_kept']:.3f} | {r['dense_rejected']:.3f} |")
        lines += ["", "Curve (hybrid, leave-one-article-out):", "", "| threshold | kept | refused |", "|---|---|---|"]
        lines += [f"| {c['threshold']:.3f} | {c['kept']:.3f} | {c['rejected']:.3f} |" for c in a["curve"]]
        lines += ["", f"Model on all articles (intercept, {', '.join(a['features'])}): "
                  + ", ".join(f"{v:.4f}" for v in a["model_all_articles"]) + f"; threshold {a['threshold']:.4f}.", ""]  # fmt: skip
        lines += ["### Index size", "", "| language | vectors | metadata | keyword data | growth |", "|---|---|---|---|---|"]
        for lang, b in q["index_bytes"].items():
            base = b["vectors"] + b["metadata"] + b["transcripts"]
            lines.append(f"| {lang} | {b['vectors']:,} | {b['metadata']:,} | {b['keywords']:,} | "
                         f"+{100 * b['keywords'] / base:.1f} % |")  # fmt: skip
        lines.append("")
    s = data.get("speed")
    if s:
        lines += ["### ask latency", "", s["what"], "", "| mode | p50 ms | p95 ms | keyword index build s |", "|---|---|---|---|"]
        for mode, r in s["modes"].items():
            lines.append(f"| {mode} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r.get('build_s', 0):.2f} |")
        lines += ["", "Hybrid, one part at a time (same questions):", "", "| part | p50 ms | p95 ms |", "|---|---|---|"]
        for part, r in s.get("breakdown", {}).items():
            lines.append(f"| {part} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |")
        loads = ", ".join(f"{m} {r.get('load_average', 0):.1f}" for m, r in s["modes"].items())
        lines += ["", f"Load average (1 min) after each mode's asks: {loads} (2 cores; other processes ran meanwhile)."]
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------------------------


def speed(args: argparse.Namespace) -> dict[str, Any]:
    from mediarag import MediaQA, Settings
    from mediarag.embed.e5 import E5Embedder
    from mediarag.schema import Chunk, SourceInfo, Transcript
    from mediarag.store import FaissStore

    import speed_search as speed_bench  # benchmarks/speed_search.py: the same passages as the ask benchmark

    xquad = Path(os.environ.get("XQUAD_DIR", "/work/shared/data/xquad"))
    corpus = speed_bench.xquad_corpus(xquad, args.unique)
    flat = [(src, lang, lo, hi, text) for src, lang, rows in corpus for lo, hi, text in rows]
    embedder = CachedEmbedder(E5Embedder(threads=1), CACHE / "embeddings-e5.npz")
    vectors = embedder.embed_passages([r[4] for r in flat])
    embedder.save()
    rng = np.random.default_rng(0)
    rows, vecs, copy = list(flat), [vectors], 1
    while len(rows) < args.passages:
        take = min(len(flat), args.passages - len(rows))
        noisy = vectors[:take] + rng.normal(0, 0.01, (take, vectors.shape[1])).astype(np.float32)
        rows += [(f"{s[:-4]}-copy{copy}.mp4", lang, lo, hi, t) for s, lang, lo, hi, t in flat[:take]]
        vecs.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        copy += 1
    matrix = np.vstack(vecs)
    tmp = Path(tempfile.mkdtemp(prefix="hybrid-speed-"))
    atexit.register(shutil.rmtree, tmp, True)  # the indexes are scratch
    store = FaissStore(tmp / "idx", embedder_name=embedder.name)
    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_source.setdefault(r[0], []).append(i)
    for source, idx in by_source.items():
        lang = rows[idx[0]][1]
        chunks = [Chunk(id=f"{source}#{j}", source=source, start=rows[i][2] * 10.0, end=rows[i][3] * 10.0 + 5,
                        text=rows[i][4], language=lang) for j, i in enumerate(idx)]  # fmt: skip
        end = max(c.end for c in chunks)
        info = SourceInfo(source=source, sha256="0" * 64, duration=end, language=lang, languages=[lang], chunks=len(chunks))
        store.add_source(info, Transcript(source=source, language=lang, duration=end), chunks, matrix[idx])
    store.commit()
    sizes = {"keywords": sum(p.stat().st_size for p in tmp.rglob("*.terms.npz")),
             "vectors": sum(p.stat().st_size for p in tmp.rglob("*.faiss")),
             "metadata": sum(p.stat().st_size for p in (tmp / "idx" / "segments").glob("*.json"))}  # fmt: skip
    questions = speed_bench.xquad_questions(xquad / "xquad.en.json", args.questions + 10)
    out: dict[str, Any] = {"passages": len(store), "unique": len(flat), "sizes": sizes, "modes": {}}
    live = E5Embedder(threads=1)
    live.warm_up()
    for mode in ("dense", "hybrid", "keyword"):
        reopened = FaissStore(tmp / "idx")
        t0 = time.perf_counter()
        if mode != "dense":
            reopened.keyword_index()
        build = time.perf_counter() - t0
        qa = MediaQA(store=reopened, embedder=live, settings=Settings(retrieval=mode))
        for q in questions[-10:]:
            qa.ask(q)
        times = []
        for q in questions[: args.questions]:
            t0 = time.perf_counter()
            qa.ask(q)
            times.append((time.perf_counter() - t0) * 1000)
        out["modes"][mode] = {"p50_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)),
                              "build_s": build, "load_average": os.getloadavg()[0]}  # fmt: skip
        if mode == "hybrid":  # the same work, one part at a time
            parts: dict[str, list[float]] = {"query embedding": [], "vector search (50)": [],
                                             "keyword search (50) and evidence": [], "fusion and decision": []}  # fmt: skip
            retriever = qa.retriever
            for q in questions[: args.questions]:
                t0 = time.perf_counter()
                vec = live.embed_queries([q])[0]
                t1 = time.perf_counter()
                dense = reopened.search(vec, k=50)
                t2 = time.perf_counter()
                keyword = reopened.keyword_search(q, 50)
                missing = reopened.keyword_index().missing(q)
                t3 = time.perf_counter()
                retriever.answers(retriever.combine(dense, keyword, missing))
                t4 = time.perf_counter()
                for key, a, b in zip(parts, (t0, t1, t2, t3), (t1, t2, t3, t4)):
                    parts[key].append((b - a) * 1000)
            out["breakdown"] = {k: {"p50_ms": float(np.median(v)), "p95_ms": float(np.percentile(v, 95))} for k, v in parts.items()}
        log(f"ask {mode}: p50 {out['modes'][mode]['p50_ms']:.1f} ms, p95 {out['modes'][mode]['p95_ms']:.1f} ms")
    out["what"] = (
        f"`MediaQA.ask` with the extractive generator over {len(store):,} passages ({len(flat):,} real XQuAD "
        f"passages embedded with multilingual-e5-small, tiled with noisy copies under other sources), "
        f"{args.questions} English XQuAD questions after 10 warm-up ones, one thread (OMP_NUM_THREADS=1, e5 "
        f"with 1 thread). Keyword data {sizes['keywords']:,} bytes against {sizes['vectors']:,} bytes of vectors "
        f"and {sizes['metadata']:,} of metadata (+{100 * sizes['keywords'] / (sizes['vectors'] + sizes['metadata']):.1f} %)."
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=24)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--only", choices=("quality", "speed"))
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--unique", type=int, default=2_000)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out_json = args.out / "hybrid.json"
    data: dict[str, Any] = json.loads(out_json.read_text()) if out_json.is_file() else {}
    if args.only in (None, "quality"):
        data["quality"] = quality(args)
    if args.only in (None, "speed"):
        data["speed"] = speed(args)
    data["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(data, indent=1))
    command = "python benchmarks/hybrid.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / "hybrid.md").write_text(report(data, command.strip()))
    log(f"wrote {args.out / 'hybrid.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
