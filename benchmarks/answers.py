#!/usr/bin/env python
"""Answer quality and LLM speed on spoken XQuAD: extractive answers against local LLMs.

    python benchmarks/answers.py [--quick] [--articles 6] [--questions 40]
                                 [--generators extractive,qwen2.5-0.5b,qwen2.5-1.5b]

For English XQuAD articles read aloud (benchmarks/spoken_xquad.py, built on first use), with the
transcripts cached by benchmarks/retrieval.py (Whisper base, sentences rebuilt), every article is
cut into passages by mediarag's default semantic segmenter and embedded with the default embedder (multilingual-e5-small).
Each English question retrieves its k = 4 best passages of its own article at the default
minimum score, and each generator answers from the same passages through
``MediaQA.answer_stream`` (so the no-passage rule, label mapping and citations are the
library's own). Reported per generator:

- **EM** and **F1** against the XQuAD answers (best over the gold answers), after SQuAD's
  normalization (lower case, no punctuation, no articles, single spaces) and with numbers
  written as digits (``twenty-five`` -> ``25``); labels such as ``[1]`` are removed first.
  Answers here are sentences, not spans, so EM is near zero by design; F1 is the useful figure,
  and **contains** (the normalized gold answer appears in the normalized answer) is given too.
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

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import string  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import retrieval  # noqa: E402  (corpus loading and the transcript cache)

K = 4
QUICK = {"articles": 2, "questions": 6, "generators": "extractive,qwen2.5-0.5b"}
FULL = {"articles": 6, "questions": 40, "generators": "extractive,qwen2.5-0.5b,qwen2.5-1.5b"}


# Scoring -------------------------------------------------------------------------------------

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS = {w: i for i, w in enumerate(_UNITS)} | {w: 10 * i for i, w in enumerate(_TENS) if w != "_"}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}


def numbers_as_digits(tokens: list[str]) -> list[str]:
    """Runs of number words become one number in digits: ``two hundred five`` -> ``205``."""
    out: list[str] = []
    total = current = 0
    in_number = False
    for token in tokens + [""]:
        if token in _NUMBER_WORDS:
            current += _NUMBER_WORDS[token]
            in_number = True
        elif token in _SCALES and in_number:
            scale = _SCALES[token]
            if scale == 100:
                current *= 100
            else:
                total += current * scale
                current = 0
        else:
            if in_number:
                out.append(str(total + current))
                total = current = 0
                in_number = False
            if token:
                out.append(token)
    return out


def normalize(text: str) -> list[str]:
    """SQuAD's answer normalization, with number words as digits and thousands separators gone."""
    text = re.sub(r"\[\d+\]", " ", text.lower())
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    text = text.replace("-", " ")
    text = "".join(" " if ch in string.punctuation else ch for ch in text)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return numbers_as_digits(text.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    return float(any(normalize(prediction) == normalize(g) for g in golds))


def f1(prediction: str, golds: Sequence[str]) -> float:
    best = 0.0
    pred = normalize(prediction)
    for gold in golds:
        ref = normalize(gold)
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def contains(prediction: str, golds: Sequence[str]) -> float:
    pred = " " + " ".join(normalize(prediction)) + " "
    return float(any(" " + " ".join(normalize(g)) + " " in pred for g in golds if normalize(g)))


def groundedness(answer: Any) -> float:
    """Share of the answer's content words that appear in the passages it cites."""
    from mediarag.generate.extractive import content_words

    words = set(content_words(re.sub(r"\[\d+\]", " ", answer.text)))
    if not words or not answer.citations:
        return 0.0
    cited = set(content_words(" ".join(c.text for c in answer.citations)))
    return len(words & cited) / len(words)


# Data ----------------------------------------------------------------------------------------


def passages_by_article(corpus: Any, timings: Any) -> dict[int, list[Any]]:
    """Default-segmenter passages of each English file, as mediarag Chunks."""
    from mediarag import Settings
    from mediarag.embed import make_embedder
    from mediarag.schema import Chunk

    transcripts = retrieval.Transcripts(timings)
    transcripts.run(corpus.files, translate=False)
    embedder = make_embedder(Settings().embedder_model)  # the default segments with it, as MediaQA does
    chunker = next(c for c in retrieval.chunkers(quick=True) if c.name == retrieval.DEFAULT_CHUNKER)
    segmenter = chunker.make(embedder)
    out: dict[int, list[Any]] = {}
    for f in corpus.files:
        sentences = transcripts.sentences[(str(f.path), "transcribe")]
        out[f.article] = [
            Chunk(id=f"{f.article}-{i}", source=str(f.path), start=p.start, end=p.end, text=p.text)
            for i, p in enumerate(segmenter.split(sentences))
        ]
    return out


def generator_for(name: str, threads: int | None) -> Any:
    if name == "extractive":
        from mediarag.generate import ExtractiveGenerator

        return ExtractiveGenerator()
    from mediarag.generate.llama_cpp import LlamaCppGenerator

    return LlamaCppGenerator(name, context_window=4096, max_tokens=96, threads=threads, timeout=900)


# Run -----------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from mediarag import MediaQA, Settings
    from mediarag.embed import make_embedder
    from mediarag.schema import Hit

    timings = retrieval.Timings()
    corpus = retrieval.load_corpus(retrieval.CORPUS_ROOT, args.articles, ["en"])
    chunks = passages_by_article(corpus, timings)
    embedder = make_embedder(Settings().embedder_model)
    vectors = {a: embedder.embed_passages([c.text for c in cs]) for a, cs in chunks.items()}
    per_article = max(1, args.questions // max(1, args.articles))
    questions = []
    for article in sorted(chunks):
        questions += [q for q in corpus.questions if q.article == article and "en" in q.question][:per_article]
    questions = questions[: args.questions]
    min_score = Settings().min_score if Settings().min_score is not None else embedder.min_score
    retrieved = []
    for q in questions:
        scores = vectors[q.article] @ embedder.embed_queries([q.question["en"]])[0]
        order = np.argsort(-scores)[:K]
        retrieved.append([Hit(chunk=chunks[q.article][i], score=float(scores[i])) for i in order if scores[i] >= min_score])

    results: dict[str, Any] = {}
    for name in args.generators.split(","):
        generator = generator_for(name, args.threads)
        started = time.perf_counter()
        generator.warm_up()
        load_s = time.perf_counter() - started
        qa = MediaQA(settings=Settings(), embedder=embedder, generator=generator)
        rows = []
        for q, hits in zip(questions, retrieved):
            t0 = time.perf_counter()
            reply = qa.answer_stream(q.question["en"], hits)
            first = None
            for _ in reply:
                first = first if first is not None else time.perf_counter() - t0
            total = time.perf_counter() - t0
            answer = reply.answer
            golds = q.answers["en"]
            row = {
                "id": q.id, "question": q.question["en"], "gold": golds, "answer": answer.text,
                "grounded": answer.grounded, "passages": len(hits),
                "em": exact_match(answer.text, golds), "f1": f1(answer.text, golds),
                "contains": contains(answer.text, golds), "groundedness": groundedness(answer),
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
            print(f"{name:>14} {q.id[:10]} f1={row['f1']:.2f} {total:5.1f}s  {answer.text[:80]!r}", file=sys.stderr)
        results[name] = {"load_s": load_s, "summary": summarize(rows), "rows": rows}
    return {
        "command": " ".join(sys.argv),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
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
        out["ttft_median"] = statistics.median(r["ttft"] for r in timed)
        out["tokens_per_s_median"] = statistics.median(r["tokens_per_s"] for r in timed)
        out["prompt_tokens_median"] = statistics.median(r["prompt_tokens"] for r in timed)
        out["prompt_tokens_per_s_median"] = statistics.median(r["prompt_tokens_per_s"] for r in timed)
    return out


def report(data: dict[str, Any]) -> str:
    lines = [
        "# Answer quality on spoken XQuAD",
        "",
        f"`{data['command']}` on {data['date']}; {data['questions']} English questions over "
        f"{data['articles']} articles, k = {data['k']}, min_score = {data['min_score']}; load average "
        f"at the end {data['load_average'][0]:.1f} (timings on a busy machine are slower); "
        f"llama.cpp threads: {data['threads']}.",
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
    data = run(args)
    name = "answers_quick" if args.quick else "answers"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(data, indent=1, default=float), encoding="utf-8")
    text = report(data)
    (args.out / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
