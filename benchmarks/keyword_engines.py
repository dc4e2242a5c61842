#!/usr/bin/env python
"""Which keyword engine: bm25s or tantivy, on the same analyzed terms.

    python benchmarks/keyword_engines.py [--articles 24] [--out benchmarks/results]

Both engines index the same terms (mediarag.text.analysis, per passage language) of the same
spoken XQuAD passages as benchmarks/hybrid.py (default segmenter over the shipped Whisper base
transcripts; its cached embeddings are reused, run hybrid.py first) and of 10,000 XQuAD text
passages (the passages of benchmarks/speed.py's ask benchmark). Each is built in memory over all
passages, as the store builds its keyword index over the live passages of its segments:

- bm25s 0.3 (Lucene BM25, k1 1.2, b 0.75; `mediarag.store.keywords.KeywordIndex`, the product's
  code path, fuzzy matching by rapidfuzz Jaro-Winkler over the vocabulary);
- tantivy 0.27 (its BM25, k1 1.2, b 0.75; a RAM index of the terms joined by spaces under the
  whitespace tokenizer; a term no passage holds becomes a fuzzy term query, Levenshtein distance 1,
  2 from 8 characters).

Reported: keyword-only hit@1 / hit@5 per set-up, build time, query p50 / p95 (one thread), and
the peak memory each build adds. Writes ``<out>/keyword_engines.md`` / ``.json``.
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
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import hybrid  # noqa: E402


class TantivyEngine:
    """The same terms in a tantivy RAM index."""

    def __init__(self, terms: Any, chunks: Sequence[Any], languages: Sequence[str | None]) -> None:
        import tantivy

        self.tantivy = tantivy
        self.languages = sorted({lang for lang in languages if lang}) or [None]
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("terms", stored=False, tokenizer_name="whitespace", index_option="freq")
        builder.add_unsigned_field("ord", stored=True, fast=True)
        self.schema = builder.build()
        self.index = tantivy.Index(self.schema)
        writer = self.index.writer(heap_size=50_000_000, num_threads=1)
        vocab = terms.vocab
        for i in range(len(terms)):
            lo, hi = int(terms.indptr[i]), int(terms.indptr[i + 1])
            words = " ".join(" ".join([vocab[t]] * int(c)) for t, c in zip(terms.ids[lo:hi].tolist(), terms.counts[lo:hi].tolist()))
            doc = tantivy.Document()
            doc.add_text("terms", words)
            doc.add_unsigned("ord", i)
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()
        self.vocab = set(vocab)
        self.chunks = list(chunks)

    def search(self, question: str, k: int) -> list[Any]:
        from mediarag.text.analysis import query_terms

        t = self.tantivy
        clauses = []
        for term in query_terms(question, self.languages):
            if term in self.vocab:
                clauses.append((t.Occur.Should, t.Query.term_query(self.schema, "terms", term)))
            elif len(term) >= 5 and not term[0].isdigit():
                distance = 2 if len(term) >= 8 else 1
                clauses.append((t.Occur.Should, t.Query.fuzzy_term_query(self.schema, "terms", term, distance=distance)))
        if not clauses:
            return []
        hits = self.searcher.search(t.Query.boolean_query(clauses), k).hits
        return [self.chunks[self.searcher.doc(addr)["ord"][0]] for _, addr in hits]


def time_queries(search: Any, questions: Sequence[str], k: int = 50) -> dict[str, float]:
    for q in questions[:10]:
        search(q, k)
    times = []
    for q in questions:
        t0 = time.perf_counter()
        search(q, k)
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95))}


def first_hit(chunks: Sequence[Any], gold: tuple[str, float, float]) -> int | None:
    source, start, end = gold
    for rank, c in enumerate(chunks[:10], 1):
        if c.source == source and min(c.end, end) > max(c.start, start):
            return rank
    return None


def main(argv: Sequence[str] | None = None) -> int:
    import resource

    import spoken_xquad
    from mediarag.embed import make_embedder
    from mediarag.settings import Settings
    from mediarag.store.keywords import KeywordIndex
    from mediarag.store.terms import PassageTerms

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=24)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    corpus = spoken_xquad.load(hybrid.CORPUS_ROOT)
    questions = [q for q in corpus.questions if q.article < args.articles]
    embedder = hybrid.CachedEmbedder(make_embedder(Settings().embedding), hybrid.CACHE / "embeddings-e5.npz")
    tmp = Path(tempfile.mkdtemp(prefix="engines-"))
    atexit.register(shutil.rmtree, tmp, True)  # the indexes are scratch
    out: dict[str, Any] = {"setups": {}, "speed": {}}
    engines: dict[str, dict[str, Any]] = {}
    for lang in hybrid.LANGUAGES:
        ix = hybrid.build_index(corpus, lang, args.articles, embedder, tmp)
        chunks = [c for s in ix.store.sources() for c in ix.store.chunks(s)]
        terms = PassageTerms.of_chunks(chunks, lang)
        engines[lang] = {
            "bm25s": KeywordIndex([(terms, chunks)], languages=[c.language or lang for c in chunks]),
            "tantivy": TantivyEngine(terms, chunks, [lang]),
            "golds": ix.golds,
        }
    for qlang, slang in hybrid.SETUPS:
        name = qlang if qlang == slang else f"{qlang}->{slang}"
        row = {}
        for engine in ("bm25s", "tantivy"):
            e = engines[slang][engine]
            search = (lambda q, k, e=e: [h.chunk for h in e.search(q, k)]) if engine == "bm25s" else e.search
            ranks = [first_hit(search(q.question[qlang], 10), engines[slang]["golds"][q.id]) for q in questions]
            row[engine] = hybrid.metrics(ranks)
        out["setups"][name] = row
        hybrid.log(f"{name}: bm25s hit@1 {row['bm25s']['hit@1']:.3f}, tantivy {row['tantivy']['hit@1']:.3f}")

    # 10,000 text passages: build time, query time, memory.
    import speed as speed_bench

    xquad = Path(os.environ.get("XQUAD_DIR", "/work/shared/data/xquad"))
    from mediarag.schema import Chunk

    rows = speed_bench.xquad_corpus(xquad, 10_000)
    chunks = [Chunk(id=f"{src}#{i}", source=src, start=0, end=1, text=text, language=lang)
              for src, lang, items in rows for i, (_, _, text) in enumerate(items)]  # fmt: skip
    t0 = time.perf_counter()
    terms = PassageTerms.of_chunks(chunks, None)
    analysis_s = time.perf_counter() - t0
    languages = [c.language for c in chunks]
    qs = speed_bench.xquad_questions(xquad / "xquad.en.json", 110)
    for engine in ("bm25s", "tantivy"):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        e = KeywordIndex([(terms, chunks)], languages=languages) if engine == "bm25s" else TantivyEngine(terms, chunks, languages)
        build = time.perf_counter() - t0
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        timing = time_queries(e.search, qs)
        out["speed"][engine] = {"build_s": build, "peak_rss_growth_mb": grown, **timing}
        hybrid.log(f"{engine}: build {build:.2f} s, p50 {timing['p50_ms']:.2f} ms")
    out["speed"]["analysis_s"] = analysis_s
    out["speed"]["passages"] = len(chunks)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "keyword_engines.json").write_text(json.dumps(out, indent=1))
    lines = ["# Keyword engines: bm25s against tantivy", "",
             f"Command: `python benchmarks/keyword_engines.py {' '.join(argv or sys.argv[1:])}`  ",
             f"Date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}", "",
             "Keyword-only retrieval over the same analyzed terms (spoken XQuAD, default segmenter over the shipped "
             f"Whisper base transcripts, {args.articles} articles):", "",
             "| set-up | bm25s hit@1 [95 % CI] | tantivy hit@1 [95 % CI] | bm25s hit@5 | tantivy hit@5 |", "|---|---|---|---|---|"]  # fmt: skip
    for name, row in out["setups"].items():
        b, t = row["bm25s"], row["tantivy"]
        lines.append(f"| {name} | {hybrid.ci_cell(b, 'hit@1')} | {hybrid.ci_cell(t, 'hit@1')} | {b['hit@5']:.3f} | {t['hit@5']:.3f} |")
    s = out["speed"]
    lines += ["", f"{s['passages']:,} XQuAD text passages (en, es, de, ru, zh), analyzed in {s['analysis_s']:.1f} s "
              "(the same for both); 100 English questions, top 50, one thread:", "",
              "| engine | build s | query p50 ms | query p95 ms | peak RSS growth MB |", "|---|---|---|---|---|"]  # fmt: skip
    for engine in ("bm25s", "tantivy"):
        r = s[engine]
        lines.append(f"| {engine} | {r['build_s']:.2f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['peak_rss_growth_mb']:.0f} |")
    (args.out / "keyword_engines.md").write_text("\n".join(lines) + "\n")
    hybrid.log(f"wrote {args.out / 'keyword_engines.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
