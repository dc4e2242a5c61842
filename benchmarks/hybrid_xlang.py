#!/usr/bin/env python
"""English questions over Spanish and German speech: what moves hit@1, and how far off the ceiling is.

    python benchmarks/hybrid_xlang.py [--articles 24] [--out benchmarks/results]

Same corpus and indexes as benchmarks/hybrid.py (spoken XQuAD read by espeak-ng, the shipped
Whisper base transcripts, mediarag's passages, multilingual-e5-small, one `FaissStore` per
language with its keyword data). Every question is ranked over all passages of its speech's
index (exact cosines, so no candidate cut-off hides a change), with the product's keyword search
(`FaissStore.keyword_search`), and scored as hybrid.py scores (hit@1: the top passage overlaps
the gold paragraph in the gold file). Variants, each chosen on the tune articles (the first half)
and reported on the held-out half and on all, with bootstrap intervals and the paired difference
to the hybrid default before (fuzzy 0.8 for every question):

- the fusion weight of the keyword side when the question is in another language than the
  passage (`mediarag.retrieve.hybrid.is_cross_language`), apart from the same-language weight;
- the keyword score relative to the part of the question's term weight the index holds
  (an English question's function words are in no Spanish passage and weigh it down);
- fuzzy matching of rare words across languages (cognates, names spelled alike), at lower
  similarities than the default;
- the e5 prefix of the question ("query: " as the product embeds it, or "passage: ");
- pseudo-relevance feedback in the embedding space (the query vector moved toward the mean of
  its best passages, Rocchio), which moves an English query toward the passages' language;
- ceilings: the same questions in the speech's own language (es->es, de->de), and dense
  retrieval over XQuAD's own paragraph text (no speech recognition) for en->X and X->X.

Writes ``<out>/hybrid-xlang.md`` and ``<out>/hybrid-xlang.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import atexit  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import hybrid as hb  # noqa: E402

SETUPS = hb.SETUPS
DEPTH = 50
BASELINE = "hybrid (fuzzy 0.8 for every question: the default before)"
#: The product's fuzzy similarity for a question in another language than the passages.
CROSS_FUZZY = __import__("mediarag.retrieve.config", fromlist=["RetrievalConfig"]).RetrievalConfig().cross_fuzzy


@dataclass
class Ranked:
    """One question over one index: exact cosines to every passage, and its keyword hits."""

    qid: str
    article: int
    cosines: np.ndarray  # (passages,) with the question's default ("query: ") vector
    cosines_p: np.ndarray  # with the "passage: " vector
    keyword: dict[float, list[tuple[int, float]]]  # fuzzy similarity -> [(passage row, relative)]
    missing: float
    cross: bool
    gold: np.ndarray  # (passages,) bool: overlaps the gold paragraph of the gold file
    product_top: int  # the row of the first candidate of the product's `HybridRetriever.evidence`


def passage_rows(store: Any) -> tuple[list[Any], np.ndarray]:
    chunks, vectors = [], []
    for source in store.sources():
        chunks += list(store.chunks(source))
        vectors.append(np.asarray(store.vectors(source), np.float32))
    return chunks, np.concatenate(vectors)


def rank_all(indexed: hb.Indexed, questions: Sequence[Any], qlang: str, embedder: Any,
             fuzzies: Sequence[float]) -> list[Ranked]:  # fmt: skip
    from mediarag.retrieve import make_retriever
    from mediarag.retrieve.hybrid import is_cross_language
    from mediarag.settings import Settings
    from mediarag.store.keywords import FuzzyMatch

    chunks, matrix = passage_rows(indexed.store)
    row_of = {c.id: i for i, c in enumerate(chunks)}
    texts = [q.question[qlang] for q in questions]
    vq, vp = embedder.embed_queries(texts), embedder.embed_passages(texts)
    index = indexed.store.keyword_index()
    retriever = make_retriever(Settings().retrieval, indexed.store, embedder)
    out = []
    for i, q in enumerate(questions):
        source, start, end = indexed.golds[q.id]
        gold = np.array([c.source == source and min(c.end, end) > max(c.start, start) for c in chunks])
        cos = matrix @ vq[i]
        keyword = {}
        for f in fuzzies:
            hits = indexed.store.keyword_search(texts[i], DEPTH, fuzzy=FuzzyMatch(min_similarity=f))
            keyword[f] = [(row_of[h.chunk.id], h.score) for h in hits]
        best = chunks[int(np.argmax(cos))]
        out.append(Ranked(q.id, q.article, cos, matrix @ vp[i], keyword, index.missing(texts[i]),
                          is_cross_language(texts[i], best), gold,
                          row_of[retriever.evidence(texts[i]).candidates[0].chunk.id]))  # fmt: skip
    return out, matrix, neighbours(chunks)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Scoring a variant: a function from a question to the score of every passage
# ---------------------------------------------------------------------------------------------

Scorer = Callable[[Ranked], np.ndarray]


def hybrid_scores(r: Ranked, *, cosines: np.ndarray | None = None, weight: float = 0.15, cross_weight: float | None = None,
                  fuzzy: float = 0.8, present: bool = False, dense_depth: int = DEPTH) -> np.ndarray:  # fmt: skip
    """The product's weighted fusion over its candidates (the best ``dense_depth`` by cosine and
    the keyword hits), others at -inf; variants: another weight for a cross-language question,
    the keyword score relative to the question's weight the index holds."""
    cos = r.cosines if cosines is None else cosines
    out = np.full(len(cos), -np.inf, np.float32)
    top = np.argpartition(-cos, min(dense_depth, len(cos)) - 1)[:dense_depth]
    out[top] = cos[top]
    floor = float(cos[top].min())
    w = cross_weight if (cross_weight is not None and r.cross) else weight
    scale = 1.0 / max(1.0 - r.missing, 0.1) if present and r.cross else 1.0
    for row, rel in r.keyword[fuzzy]:
        base = out[row] if np.isfinite(out[row]) else floor
        out[row] = base + w * min(rel * scale, 1.5 if present else np.inf)
    return out


def rocchio(r: Ranked, matrix: np.ndarray, query: np.ndarray, m: int, beta: float) -> np.ndarray:
    """Cosines of the query moved toward the mean of its ``m`` best passages."""
    top = np.argsort(-r.cosines)[:m]
    q = query + beta * matrix[top].mean(axis=0)
    q /= np.linalg.norm(q)
    return matrix @ q


def neighbours(chunks: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Each passage's previous and next passage of the same file (itself where there is none)."""
    n = len(chunks)
    prev, nxt = np.arange(n), np.arange(n)
    for i in range(n):
        if i > 0 and chunks[i - 1].source == chunks[i].source:
            prev[i] = i - 1
        if i + 1 < n and chunks[i + 1].source == chunks[i].source:
            nxt[i] = i + 1
    return prev, nxt


def smoothed(cos: np.ndarray, around: tuple[np.ndarray, np.ndarray], gamma: float) -> np.ndarray:
    """Cosines plus ``gamma`` times the mean cosine of each passage's neighbours in its file."""
    prev, nxt = around
    return cos + gamma * (cos[prev] + cos[nxt]) / 2


def hit1(r: Ranked, scores: np.ndarray) -> float:
    return float(r.gold[int(np.argmax(scores))])


# ---------------------------------------------------------------------------------------------
# Text ceiling: dense retrieval over XQuAD's paragraph text (no speech recognition)
# ---------------------------------------------------------------------------------------------


def text_ceiling(corpus: Any, questions: Sequence[Any], articles: int, embedder: Any) -> dict[str, Any]:
    out = {}
    for qlang, slang in SETUPS:
        files = [f for f in corpus.files if f.language == slang and f.article < articles]
        paras = [(f.article, p.index, p.text) for f in files for p in f.paragraphs]
        matrix = embedder.embed_passages([t for *_, t in paras])
        vq = embedder.embed_queries([q.question[qlang] for q in questions])
        hits = np.array([float(paras[int(np.argmax(matrix @ v))][:2] == (q.article, q.paragraph)) for q, v in zip(questions, vq)])
        arts = np.array([q.article for q in questions])
        out[setup_name(qlang, slang)] = {
            "paragraphs": len(paras),
            "all": [float(hits.mean()), *hb.bootstrap(hits)],
            "held-out": [float(hits[arts >= articles // 2].mean()), *hb.bootstrap(hits[arts >= articles // 2])],
        }
    embedder.save()
    return out


def abstain(indexed: hb.Indexed, questions: Sequence[Any], qlang: str, embedder: Any) -> dict[str, Any]:
    """The product's answer-or-not rule (`HybridRetriever.answers`, default settings) on every
    question with its article indexed (answerable) and left out (unanswerable), with the
    cross-language fuzzy matching and without it (``cross_fuzzy`` off: fuzzy 0.8 for all)."""
    from mediarag.retrieve import make_retriever
    from mediarag.settings import Settings

    store = indexed.store
    rules = {"before": make_retriever(Settings().retrieval, store, embedder),
             "now": make_retriever(Settings().retrieval, store, embedder)}  # fmt: skip
    rules["before"].cross_fuzzy = None
    answered: dict[str, dict[str, list[float]]] = {k: {"kept": [], "refused": []} for k in rules}
    by_article: dict[int, list[Any]] = {}
    for q in questions:
        by_article.setdefault(q.article, []).append(q)
    for leave_out in (False, True):
        for article, items in sorted(by_article.items()):
            if leave_out:
                store.delete_source(indexed.sources[article])
            for q in items:
                for name, retriever in rules.items():
                    yes = retriever.answers(retriever.evidence(q.question[qlang]))
                    answered[name]["refused" if leave_out else "kept"].append(float(not yes if leave_out else yes))
            if leave_out:
                store.rollback()
    return {name: {k: [float(np.mean(v)), *hb.bootstrap(np.array(v))] for k, v in parts.items()}
            for name, parts in answered.items()}  # fmt: skip


def setup_name(qlang: str, slang: str) -> str:
    return qlang if qlang == slang else f"{qlang}->{slang}"


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    import spoken_xquad
    from mediarag.embed import make_embedder
    from mediarag.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=24)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    corpus = spoken_xquad.load(hb.CORPUS_ROOT)
    questions = [q for q in corpus.questions if q.article < args.articles]
    embedder = hb.CachedEmbedder(make_embedder(Settings().embedding), hb.CACHE / "embeddings-e5.npz")
    tmp = Path(tempfile.mkdtemp(prefix="hybrid-xlang-"))
    atexit.register(shutil.rmtree, tmp, True)  # the indexes are scratch
    indexes = {lang: hb.build_index(corpus, lang, args.articles, embedder, tmp) for lang in hb.LANGUAGES}
    fuzzies = (0.6, 0.7, 0.8, 1.01)
    ranked: dict[str, list[Ranked]] = {}
    matrices: dict[str, np.ndarray] = {}
    queries: dict[str, np.ndarray] = {}
    around: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for qlang, slang in SETUPS:
        name = setup_name(qlang, slang)
        hb.log(f"ranking {name}")
        ranked[name], matrices[name], around[name] = rank_all(indexes[slang], questions, qlang, embedder, fuzzies)
        queries[name] = embedder.embed_queries([q.question[qlang] for q in questions])
    embedder.save()
    tune = {q.id for q in questions if q.article < args.articles // 2}

    def evaluate(scorer: Callable[[str, int, Ranked], np.ndarray]) -> dict[str, np.ndarray]:
        return {name: np.array([hit1(r, scorer(name, i, r)) for i, r in enumerate(rs)]) for name, rs in ranked.items()}

    def split(values: np.ndarray, name: str, part: str) -> np.ndarray:
        ids = [r.qid for r in ranked[name]]
        mask = np.array([(i in tune) == (part == "tune") for i in ids])
        return values if part == "all" else values[mask]

    variants: dict[str, dict[str, np.ndarray]] = {}
    variants["dense"] = evaluate(lambda n, i, r: r.cosines)
    variants["dense, passage: prefix"] = evaluate(lambda n, i, r: r.cosines_p)
    variants["dense, both prefixes"] = evaluate(lambda n, i, r: r.cosines + r.cosines_p)
    variants[BASELINE] = evaluate(lambda n, i, r: hybrid_scores(r))
    variants["hybrid (default now: fuzzy 0.6 for cross-language questions)"] = evaluate(
        lambda n, i, r: hybrid_scores(r, fuzzy=CROSS_FUZZY if r.cross else 0.8))
    variants["the same through HybridRetriever (default settings)"] = evaluate(
        lambda n, i, r: np.eye(len(r.gold), dtype=np.float32)[r.product_top])
    variants["hybrid, all passages as dense candidates"] = evaluate(lambda n, i, r: hybrid_scores(r, dense_depth=10**6))

    # Grids, chosen on tune (mean hit@1 of the two cross-language set-ups; same-language ones
    # do not change with a cross-language-only parameter).
    cross = [s for s in ranked if "->" in s]

    def tune_score(values: dict[str, np.ndarray], setups: Sequence[str] = cross) -> float:
        return float(np.mean([split(values[s], s, "tune").mean() for s in setups]))

    grid: list[dict[str, Any]] = []
    chosen: dict[str, dict[str, Any]] = {}
    families = {
        "cross weight": [dict(cross_weight=w) for w in (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6)],
        "cross weight, present-term score": [dict(cross_weight=w, present=True) for w in (0.05, 0.1, 0.15, 0.2, 0.3)],
        "fuzzy (every question)": [dict(cross_weight=w, fuzzy=f) for w in (0.15, 0.3) for f in fuzzies],
        "rocchio": [dict(m=m, beta=b) for m in (1, 3, 5) for b in (0.25, 0.5, 1.0)],
        "rocchio + cross weight": [dict(m=m, beta=b, cross_weight=w) for m in (1, 3) for b in (0.25, 0.5) for w in (0.15, 0.3)],
        "fuzzy for cross-language questions only": [dict(cross_fuzzy=f) for f in fuzzies],
        "neighbours, cross-language questions": [dict(gamma=g, only_cross=True) for g in (0.1, 0.2, 0.3, 0.5, 1.0)],
        "neighbours, every question": [dict(gamma=g, only_cross=False) for g in (0.1, 0.2, 0.3, 0.5, 1.0)],
    }
    for family, options in families.items():
        best = None
        for opt in options:
            if "m" in opt:
                o = dict(opt)
                m, beta = o.pop("m"), o.pop("beta")

                def scorer(n: str, i: int, r: Ranked, m: int = m, beta: float = beta, o: dict = o) -> np.ndarray:
                    cos = rocchio(r, matrices[n], queries[n][i], m, beta) if r.cross else r.cosines
                    return hybrid_scores(r, cosines=cos, **o)
            elif "gamma" in opt:
                def scorer(n: str, i: int, r: Ranked, opt: dict = opt) -> np.ndarray:
                    use = r.cross or not opt["only_cross"]
                    return hybrid_scores(r, cosines=smoothed(r.cosines, around[n], opt["gamma"]) if use else None)
            elif "cross_fuzzy" in opt:
                def scorer(n: str, i: int, r: Ranked, opt: dict = opt) -> np.ndarray:
                    return hybrid_scores(r, fuzzy=opt["cross_fuzzy"] if r.cross else 0.8)
            else:
                def scorer(n: str, i: int, r: Ranked, opt: dict = opt) -> np.ndarray:
                    return hybrid_scores(r, **opt)
            values = evaluate(scorer)
            score = tune_score(values, list(ranked) if opt.get("only_cross") is False or family.startswith("fuzzy (") else cross)
            grid.append({"family": family, **opt, "tune_cross_hit@1": score})
            if best is None or score > best[0] + 1e-9:
                best = (score, opt, values)
        assert best is not None
        chosen[family] = best[1]
        variants[f"{family} ({', '.join(f'{k}={v}' for k, v in best[1].items())})"] = best[2]
        hb.log(f"{family}: best on tune {best[1]} ({best[0]:.3f})")

    product = variants[BASELINE]
    changed = {n: float(np.mean([r.keyword[0.8][:1] != r.keyword[CROSS_FUZZY][:1] for r in rs if r.cross]))
               for n, rs in ranked.items() if any(r.cross for r in rs)}
    table: dict[str, Any] = {}
    for variant, values in variants.items():
        table[variant] = {}
        for name in ranked:
            table[variant][name] = {}
            for part in ("tune", "held-out", "all"):
                v, p = split(values[name], name, part), split(product[name], name, part)
                table[variant][name][part] = {"hit@1": [float(v.mean()), *hb.bootstrap(v)], "minus_product": hb.paired(v, p)}
    hb.log("abstention, before and after")
    abstention = {setup_name(q, s): abstain(indexes[s], questions, q, embedder) for q, s in SETUPS}
    hb.log("text ceiling")
    ceiling = text_ceiling(corpus, questions, args.articles, embedder)
    data = {"articles": args.articles, "questions": len(questions), "passages": {k: v.passages for k, v in indexes.items()},
            "grid": grid, "chosen": chosen, "abstention": abstention, "table": table, "text_ceiling": ceiling,
            "cross_share": {n: float(np.mean([r.cross for r in rs])) for n, rs in ranked.items()},
            "top_keyword_changed": changed}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hybrid-xlang.json").write_text(json.dumps(data, indent=1))
    command = "python benchmarks/hybrid_xlang.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / "hybrid-xlang.md").write_text(report(data, command.strip()))
    hb.log(f"wrote {args.out / 'hybrid-xlang.md'}")
    return 0


def report(data: dict[str, Any], command: str) -> str:
    names = [setup_name(q, s) for q, s in SETUPS]
    lines = ["# English questions over Spanish and German speech", "", f"Command: `{command}`  ",
             f"Date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}", "",
             f"{data['articles']} articles, {data['questions']} questions per set-up; passages: "
             + ", ".join(f"{k} {v}" for k, v in data["passages"].items()) + ". Tune: articles 0-"
             f"{data['articles'] // 2 - 1}; held-out: the rest. hit@1 [95 % CI]; in brackets after it, the paired "
             "difference to the hybrid default before this change (fuzzy 0.8 for every question). "
             "Questions taken as cross-language (function words of another language than the best passage by meaning): "
             + ", ".join(f"{n} {v:.3f}" for n, v in data["cross_share"].items()) + "; of those, the best keyword hit "
             "(its passage or score, an input of the answer-or-not rule) changes with the cross-language fuzzy "
             "matching for " + ", ".join(f"{n} {v:.3f}" for n, v in data["top_keyword_changed"].items() if "->" in n)
             + ".", ""]  # fmt: skip
    for part in ("held-out", "all", "tune"):
        lines += [f"### {part}", "", "| variant | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for variant, per in data["table"].items():
            cells = []
            for n in names:
                c = per[n][part]
                h, d = c["hit@1"], c["minus_product"]
                cells.append(f"{h[0]:.3f} [{h[1]:.3f}, {h[2]:.3f}] ({d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}])")
            lines.append(f"| {variant} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["### The answer-or-not rule, before and after", "",
              "`HybridRetriever.answers` with default settings (the measured model of hybrid.md, fit on these "
              "articles): answerable questions kept, and the same questions refused over the index without their "
              "article.", "", "| set-up | kept before | kept now | refused before | refused now |", "|---|---|---|---|---|"]
    for n, a in data["abstention"].items():
        b, c = a["before"], a["now"]
        lines.append(f"| {n} | {b['kept'][0]:.3f} | {c['kept'][0]:.3f} [{c['kept'][1]:.3f}, {c['kept'][2]:.3f}] | "
                     f"{b['refused'][0]:.3f} | {c['refused'][0]:.3f} [{c['refused'][1]:.3f}, {c['refused'][2]:.3f}] |")
    lines += ["", "### Ceiling: dense over XQuAD's paragraph text (no speech recognition)", "",
              "| set-up | paragraphs | hit@1 all [95 % CI] | hit@1 held-out |", "|---|---|---|---|"]  # fmt: skip
    for n, c in data["text_ceiling"].items():
        lines.append(f"| {n} | {c['paragraphs']} | {c['all'][0]:.3f} [{c['all'][1]:.3f}, {c['all'][2]:.3f}] | "
                     f"{c['held-out'][0]:.3f} [{c['held-out'][1]:.3f}, {c['held-out'][2]:.3f}] |")  # fmt: skip
    lines += ["", "### Tuning grid (mean hit@1 of en->es and en->de on the tune articles)", "",
              "| family | options | tune hit@1 |", "|---|---|---|"]
    for g in data["grid"]:
        opts = ", ".join(f"{k}={v}" for k, v in g.items() if k not in ("family", "tune_cross_hit@1"))
        lines.append(f"| {g['family']} | {opts} | {g['tune_cross_hit@1']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
