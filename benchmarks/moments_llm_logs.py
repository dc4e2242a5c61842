#!/usr/bin/env python
"""Figures of interrupted `benchmarks/moments.py --sections llm` runs, from their logs.

    python benchmarks/moments_llm_logs.py LOG [LOG...] [--out report.md]

A run of the llm section writes its JSON only at the end; a run stopped before then leaves its
log, one line per answered question (question id, token F1 of the final answer, time to first
token, the model's own reply cut to 70 characters, and the fallback reason). This recomputes
what those lines allow: token F1 (of the final answer, after the fallback), refusals, fallbacks,
and whether the gold answer was in the text the model was shown (recomputed from the cached
passages of that run's index and `mediarag.moments.focus`, as the llm section does). Intervals:
95 % bootstrap over questions. Figures the log lines do not carry (gold contained in the final
answer, groundedness, tokens/s) are not reported.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import moments  # noqa: E402  (the benchmark whose logs these are)
from core.squad import contains_answer as contains  # noqa: E402
from core.squad import f1_score as f1  # noqa: E402

LINE = re.compile(
    r"^\[\s*[\d.]+s\]\s+(?P<model>\S+) (?P<variant>\S+) (?P<id>[0-9a-f]{8}) f1=(?P<f1>[\d.]+) "
    r"ttft=\s*(?P<ttft>[\d.]+)s (?P<raw>'.*'|\".*\")(?: -> fallback \((?P<why>.*)\))?$"
)


def parse(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = LINE.match(line.strip())
        if m:
            rows.append(m.groupdict() | {"raw": m["raw"][1:-1], "f1": float(m["f1"]), "ttft": float(m["ttft"])})
    return rows


def sample_questions(llm_questions: int) -> list:
    """The llm section's sample, in its order: every n-th of the 632 English questions."""
    import retrieval

    corpus = retrieval.load_corpus(moments.CORPUS_ROOT, 24, ["en"])
    questions = moments.gold_questions(corpus)
    step = max(1, len(questions) // llm_questions)
    return list(questions[::step])[:llm_questions]


def attach(rows: list[dict], sample: Sequence, hits_file: Path) -> None:
    """Each logged row gets its question (the log's n-th line is the sample's n-th question; the
    8-character id prefix is checked, as it alone is ambiguous), its gold answers and whether
    the gold was in what the model read (its passages cut to 3 sentences by `focus`)."""
    from mediarag.moments import focus
    from mediarag.schema import Hit

    cached = json.loads(hits_file.read_text(encoding="utf-8"))
    for row, q in zip(rows, sample, strict=False):
        if q.id[:8] != row["id"]:
            raise SystemExit(f"log line for {row['id']} is not the sample's question {q.id}: another --llm-questions?")
        hits = [Hit.model_validate(h) for h in cached.get(q.text, [])]
        shown = focus(q.text, hits, sentences=3) if hits else []
        row.update(golds=q.golds, shown=bool(contains(" ".join(f.hit.chunk.text for f in shown), q.golds)))
    if len(rows) > len(sample):
        raise SystemExit("more log lines than questions in the sample: another --llm-questions?")


def report(rows_by_run: dict[str, list[dict]], logs: Sequence[Path]) -> str:
    from mediarag.generate.prompt import is_refusal

    lines = [
        "# Local LLM answers on spoken XQuAD (English): interrupted runs, from their logs",
        "",
        (
            f"`python benchmarks/moments_llm_logs.py {' '.join(str(p) for p in logs)}`. The runs "
            "(`benchmarks/moments.py --sections llm`, one model each, sample of 40: every 15th "
            "question; the exact command lines were not logged) ran the code of commit 2c99420 "
            "(before the support check counted only what a reply adds to the question) and were "
            "stopped before the end of their sample. They ran at the same time as each other and "
            "as other heavy jobs on the shared 2-core machine (load average 8-13 in that hour): "
            "their times to first token are of that load, not of a quiet machine, and are no "
            "measure of the 6 s target. 'F1 model' is of the model's own reply as logged (its "
            "first 70 characters), 'F1' of the final answer (after the degenerate-reply "
            "fallback). Intervals: 95 % bootstrap over questions."
        ),
        "",
        "| model, set-up | questions | F1 (final answer) | F1 model | F1 = 1 | refused, gold shown | refused, gold not shown | fallback | TTFT median s (under load) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in rows_by_run.items():
        final = moments.interval([r["f1"] for r in rows])
        raw = moments.interval([f1(r["raw"], r["golds"]) for r in rows])
        exact = moments.interval([float(r["f1"] >= 0.995) for r in rows])
        refused = [bool(is_refusal(r["raw"])) for r in rows]
        s = [x for x, r in zip(refused, rows) if r["shown"]]
        h = [x for x, r in zip(refused, rows) if not r["shown"]]
        fb = moments.interval([float(bool(r["why"])) for r in rows])
        ttft = sorted(r["ttft"] for r in rows)[len(rows) // 2]
        lines.append(
            f"| {name} | {len(rows)} | {moments.fmt(final)} | {moments.fmt(raw)} | {moments.fmt(exact, 2)} | {sum(s)} of {len(s)} | "
            f"{sum(h)} of {len(h)} | {moments.fmt(fb, 2)} | {ttft:.0f} |"
        )
    common = set.intersection(*({r["id"] for r in rows} for rows in rows_by_run.values()))
    if len(rows_by_run) > 1 and common:
        lines += ["", f"On the {len(common)} questions both runs answered:", ""]
        for name, rows in rows_by_run.items():
            final = moments.interval([r["f1"] for r in rows if r["id"] in common])
            lines.append(f"- {name}: F1 {moments.fmt(final)}")
    lines += ["", "Fallback reasons:", ""]
    for name, rows in rows_by_run.items():
        reasons = defaultdict(int)
        for r in rows:
            if r["why"]:
                reasons[r["why"]] += 1
        lines.append(f"- {name}: " + (", ".join(f"{why}: {n}" for why, n in sorted(reasons.items())) or "none"))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--hits", type=Path, default=moments.CACHE / "moments" / "index-24e2d67046cf-hits-k4-0.7800.json",
                        help="the cached passages of the index those runs used")  # fmt: skip
    parser.add_argument("--llm-questions", type=int, default=40, help="the runs' --llm-questions")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    rows_by_run: dict[str, list[dict]] = defaultdict(list)
    for path in args.logs:
        for row in parse(path):
            rows_by_run[f"{row['model']} {row['variant']}"].append(row)
    sample = sample_questions(args.llm_questions)
    for rows in rows_by_run.values():
        attach(rows, sample, args.hits)
    text = report(rows_by_run, args.logs)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
