"""Question speed: `MediaQA.ask` over 10,000 passages of real text, part by part, and search
latency against index size (exact and approximate FAISS indexes)."""

from __future__ import annotations

import gc
import json
import math
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.machine import CpuMonitor, Quiet
from core.report import log
from core.stats import median, percentile, summarize


# Real text for the passages and the questions ---------------------------------------------


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


def split_sentences(text: str) -> list[str]:
    """A plain sentence split for benchmark passages (punctuation followed by a space)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def paragraph_passages(paragraph: str, windows: Sequence[int] = (1, 2, 3)) -> list[tuple[int, int, str]]:
    """Passages of one paragraph: the whole paragraph, then every run of ``windows`` sentences.

    Each is ``(first_sentence, end_sentence, text)`` with ``end_sentence`` exclusive."""
    sentences = split_sentences(paragraph)
    if not sentences:
        return []
    out = [(0, len(sentences), " ".join(sentences))]
    for size in windows:
        if size >= len(sentences):
            continue
        out.extend((i, i + size, " ".join(sentences[i : i + size])) for i in range(len(sentences) - size + 1))
    return out


def xquad_questions(path: Path, n: int) -> list[str]:
    """``n`` questions spread evenly over an XQuAD file (every article gets some)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    questions = [qa["question"] for art in data["data"] for p in art["paragraphs"] for qa in p["qas"]]
    if n >= len(questions):
        return questions
    step = len(questions) / n
    return [questions[int(i * step)] for i in range(n)]


def evenly(items: Sequence[Any], n: int) -> list[Any]:
    """``n`` items taken at evenly spaced positions (all of them when there are fewer)."""
    if n >= len(items):
        return list(items)
    if n <= 0:
        return []
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover
        return None


# `ask` latency ----------------------------------------------------------------------------


def xquad_corpus(xquad_dir: Path, n: int) -> list[tuple[str, str, list[tuple[int, int, str]]]]:
    """Up to ``n`` real passages as ``(source, language, [(first, end, text), ...])`` per paragraph:
    all English XQuAD passages (whole paragraphs and 1-3 sentence windows), then Spanish, German,
    Russian and Chinese ones taken evenly until ``n``."""
    per_lang: dict[str, list[tuple[str, int, int, str]]] = {}
    for lang in ("en", "es", "de", "ru", "zh"):
        path = xquad_dir / f"xquad.{lang}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = per_lang.setdefault(lang, [])
        for a, art in enumerate(data["data"]):
            for p, par in enumerate(art["paragraphs"]):
                source = f"xquad/{lang}/{a:02d}-{p}.mp4"
                rows.extend((source, lo, hi, text) for lo, hi, text in paragraph_passages(par["context"]))
    chosen = list(per_lang.get("en", []))[:n]
    others = [row for lang in ("es", "de", "ru", "zh") for row in per_lang.get(lang, [])]
    chosen += evenly(others, n - len(chosen))
    grouped: dict[str, list[tuple[int, int, str]]] = {}
    for source, lo, hi, text in chosen:
        grouped.setdefault(source, []).append((lo, hi, text))
    return [(src, src.split("/")[1], rows) for src, rows in grouped.items()]


def bench_ask(
    xquad_dir: Path, n_passages: int, n_unique: int, n_questions: int, tmp: Path, quiet: Quiet | None = None
) -> dict[str, Any]:
    from mediarag import MediaQA, Settings
    from mediarag.embed import make_embedder
    from mediarag.schema import Chunk, SourceInfo, Transcript
    from mediarag.store import open_store

    quiet = quiet or Quiet()
    embedder = make_embedder(Settings().embedding)
    log(f"[2/3] ask: building {n_passages:,} passages from XQuAD ({n_unique:,} embedded with {embedder.name})")
    embedder.warm_up()
    corpus = xquad_corpus(xquad_dir, n_unique)
    flat = [(src, lang, lo, hi, text) for src, lang, rows in corpus for lo, hi, text in rows]
    texts = [row[4] for row in flat]
    t0 = time.perf_counter()
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    batch = 1000
    for i in range(0, len(texts), batch):
        vectors[i : i + batch] = embedder.embed_passages(texts[i : i + batch])
        log(f"[2/3] embedded {min(i + batch, len(texts)):,}/{len(texts):,} passages")
    embed_s = time.perf_counter() - t0
    tiled = 0
    if len(flat) < n_passages:  # quick mode: repeat the embedded passages with a little noise
        rng = np.random.default_rng(0)
        base_rows, base_vecs = list(flat), vectors
        copy = 1
        while len(flat) < n_passages:
            take = min(len(base_rows), n_passages - len(flat))
            noisy = base_vecs[:take] + rng.normal(0.0, 0.01, size=(take, base_vecs.shape[1])).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            flat += [(f"{src[:-4]}-copy{copy}.mp4", lang, lo, hi, text) for src, lang, lo, hi, text in base_rows[:take]]
            vectors = np.vstack([vectors, noisy])
            tiled += take
            copy += 1

    store = open_store(tmp / "ask-index", embedder_name=embedder.name)
    by_source: dict[str, list[int]] = {}
    for i, row in enumerate(flat):
        by_source.setdefault(row[0], []).append(i)
    t0 = time.perf_counter()
    for source, rows in by_source.items():
        lang = flat[rows[0]][1]
        chunks = [
            Chunk(id=f"{source}#{j}", source=source, start=flat[i][2] * 10.0, end=flat[i][3] * 10.0,
                  text=flat[i][4], language=lang)
            for j, i in enumerate(rows)
        ]  # fmt: skip
        end = max(c.end for c in chunks)
        info = SourceInfo(source=source, sha256="0" * 64, duration=end, language=lang, languages=[lang], chunks=len(chunks))
        store.add_source(info, Transcript(source=source, language=lang, duration=end), chunks, vectors[rows])
    add_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.commit()
    commit_s = time.perf_counter() - t0
    log(f"[2/3] index of {len(store):,} passages in {len(by_source):,} sources built "
        f"(add {add_s:.1f} s, commit {commit_s:.1f} s)")  # fmt: skip

    qa = MediaQA(store=store, embedder=embedder)
    qa.warm_up(ingest=False)
    questions = xquad_questions(xquad_dir / "xquad.en.json", n_questions)
    warmups = xquad_questions(xquad_dir / "xquad.en.json", n_questions + 10)[-10:]
    for q in warmups:
        qa.ask(q)

    retriever, answerer = qa.retriever, qa.answerer
    k, min_score = retriever.k, retriever.min_score
    while True:
        quiet.before()
        ask_ms: list[float] = []
        grounded = 0
        with CpuMonitor() as asks_mon:
            for q in questions:
                t0 = time.perf_counter()
                answer = qa.ask(q)
                ask_ms.append((time.perf_counter() - t0) * 1000)
                grounded += answer.grounded
        log(f"[2/3] {len(questions)} asks: p50 {median(ask_ms):.1f} ms, p95 {percentile(ask_ms, 95):.1f} ms")

        # The same work, one part at a time (what MediaQA.ask does through its retriever and
        # answerer: embed the question, search the index, write the answer).
        embed_ms, search_ms, gen_ms = [], [], []
        with CpuMonitor() as parts_mon:
            for q in questions:
                t0 = time.perf_counter()
                vec = retriever.query_vector(q)
                t1 = time.perf_counter()
                hits = store.search(vec, k=k, min_score=min_score)
                t2 = time.perf_counter()
                answerer.stream(q, hits, stream=False).answer  # noqa: B018 - the answer is timed
                t3 = time.perf_counter()
                embed_ms.append((t1 - t0) * 1000)
                search_ms.append((t2 - t1) * 1000)
                gen_ms.append((t3 - t2) * 1000)
        log(f"[2/3] breakdown p50: query embedding {median(embed_ms):.2f} ms, FAISS search "
            f"{median(search_ms):.2f} ms, generator {median(gen_ms):.2f} ms")  # fmt: skip
        record = {"ask_p50_ms": median(ask_ms), "ask_p95_ms": percentile(ask_ms, 95)}
        if quiet.accept("[2/3] asks", [asks_mon.others_cores, parts_mon.others_cores], record):
            break
    out = {
        "passages": len(store),
        "sources": len(by_source),
        "embedded_unique": len(texts),
        "tiled_with_noise": tiled,
        "mean_passage_chars": float(np.mean([len(r[4]) for r in flat])),
        "embed_s": embed_s,
        "index_add_s": add_s,
        "index_commit_s": commit_s,
        "index_type": store.index_type,
        "questions": len(questions),
        "grounded": grounded,
        "k": k,
        "ask_ms": summarize(ask_ms),
        "ask_runs_ms": ask_ms,
        "asks_others_cores": asks_mon.others_cores,
        "breakdown_others_cores": parts_mon.others_cores,
        "discarded_runs": [d for d in quiet.discarded if d["what"].startswith("[2/3]")],
        "torch_threads": torch_threads(),
        "embedder": embedder.name,
        "query_embedding_ms": summarize(embed_ms),
        "faiss_search_ms": summarize(search_ms),
        "generator_ms": summarize(gen_ms),
    }
    return out


# Search latency against index size -------------------------------------------------------


def synthetic_vectors(n: int, dim: int = 384, clusters: int = 1000, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors around ``clusters`` random topic centres (passages of a real index
    cluster by topic; uniformly random vectors would be an unrealistically hard case for an
    approximate index). Generated in blocks to keep memory at the output's size."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for first in range(0, n, 100_000):
        m = min(100_000, n - first)
        block = centres[rng.integers(0, clusters, m)] + rng.standard_normal((m, dim)).astype(np.float32) * 0.05
        out[first : first + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def bench_index_scaling(
    sizes: Sequence[int], n_queries: int = 200, k: int = 4, hnsw_max: int = 100_000
) -> dict[str, Any]:
    """p50/p95 latency of one query (one thread, as `FaissStore.search` runs it) against index
    size, for the store's exact ``IndexFlatIP``, its ``IndexHNSWFlat`` (same M and efSearch as
    `mediarag.store.segment`) and an ``IndexIVFFlat`` (nlist ~ 4 sqrt(n), nprobe 16); build time and
    recall@k of the approximate indexes against the exact one. HNSW is built only up to
    ``hnsw_max`` vectors: its build time grows faster than linearly (minutes per 100k on 2 cores),
    so larger sizes use IVF for the approximate side."""
    import faiss

    from mediarag.store import segment as store_faiss

    rows = []
    for n in sizes:
        data = synthetic_vectors(n)
        rng = np.random.default_rng(1)
        queries = data[rng.integers(0, n, n_queries)] + rng.standard_normal((n_queries, data.shape[1])).astype(np.float32) * 0.05
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        dim = data.shape[1]
        built: dict[str, tuple[Any, float]] = {}
        t0 = time.perf_counter()
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        built["flat (exact)"] = (flat, time.perf_counter() - t0)
        if n <= hnsw_max:
            t0 = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(dim, store_faiss.HNSW_M, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = store_faiss.HNSW_EF_CONSTRUCTION
            hnsw.add(data)
            hnsw.hnsw.efSearch = store_faiss.HNSW_EF_SEARCH
            built[f"HNSW (M={store_faiss.HNSW_M}, efSearch={store_faiss.HNSW_EF_SEARCH})"] = (hnsw, time.perf_counter() - t0)
        nlist = int(4 * math.sqrt(n))
        t0 = time.perf_counter()
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(data[np.random.default_rng(2).choice(n, min(n, 40 * nlist), replace=False)])
        ivf.add(data)
        ivf.nprobe = 16
        built[f"IVF-Flat (nlist={nlist}, nprobe=16)"] = (ivf, time.perf_counter() - t0)
        log(f"[5] {n:,} vectors: built " + ", ".join(f"{name} {secs:.1f} s" for name, (_, secs) in built.items()))
        _, truth = flat.search(queries, k)
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            for name, (index, build_s) in built.items():
                ms = []
                found = []
                for q in queries:
                    t0 = time.perf_counter()
                    _, ids = index.search(q[None, :], k)
                    ms.append((time.perf_counter() - t0) * 1000)
                    found.append(ids[0])
                recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth)]))
                rows.append({"vectors": n, "index": name, "build_s": build_s, "p50_ms": median(ms),
                             "p95_ms": percentile(ms, 95), f"recall@{k}": recall})  # fmt: skip
                log(f"[5] {n:,} {name}: p50 {median(ms):.3f} ms, p95 {percentile(ms, 95):.3f} ms, recall {recall:.3f}")
        finally:
            faiss.omp_set_num_threads(before)
        del data, built, flat, ivf
        gc.collect()
    return {"dimension": 384, "queries": n_queries, "k": k, "hnsw_max": hnsw_max, "rows": rows}
