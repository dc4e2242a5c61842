#!/usr/bin/env python
"""How far a moment should reach: the answering sentence alone, or with a neighbouring sentence
(`mediarag.moments.choose_sentences`), on spoken XQuAD (English).

    python benchmarks/moments_neighbours.py [--out benchmarks/results]

Same set-up, gold and hits as benchmarks/moments.py (its cached retrievals: run it first); each
row is the extractive generator with other neighbour options: the share of questions whose
first citation's moment overlaps the answer sentence, the moment's length, and the gold answer
in the answer's words (unchanged by design: the neighbour widens the moment, not the quote). The
defaults were chosen on the tuning articles (0-11); 12-23 are held out. 95 % bootstrap intervals
over questions. Writes ``<out>/moments-neighbours.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import moments as M  # noqa: E402

#: (label, ExtractiveGenerator options)
VARIANTS = [
    ("answering sentence only (before)", {"neighbour_ratio": None}),
    ("default: + neighbour in its passage, ratio 0.3, within 25 s", {}),
    ("ratio 0.2", {"neighbour_ratio": 0.2}),
    ("ratio 0.5", {"neighbour_ratio": 0.5}),
    ("ratio 0.7", {"neighbour_ratio": 0.7}),
    ("within 16 s", {"moment_seconds": 16.0}),
    ("within 20 s", {"moment_seconds": 20.0}),
    ("+ across a passage edge of the same file, gap 1.5 s (the moment leaves its passage)", {"neighbour_gap": 1.5}),
    ("+ across a passage edge, gap 0.5 s", {"neighbour_gap": 0.5}),
    ("+ across a passage edge, gap 3 s", {"neighbour_gap": 3.0}),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    from mediarag.generate.extractive import ExtractiveGenerator

    _, questions = M.prepare(argparse.Namespace(quick=False))
    out = {}
    for label, options in VARIANTS:
        rows = M.extractive_rows(questions, ExtractiveGenerator(**options))
        out[label] = M.summarize_extractive(rows) | {"splits": M.by_split(questions, rows, M.summarize_extractive)}
        M.log(f"{label}: moment {M.fmt(out[label]['moment_overlap'])}, {out[label]['moment_s']['mean']:.1f} s")
    lines = [
        "# How far a moment reaches (spoken XQuAD, English, extractive answers)",
        "",
        f"`python benchmarks/moments_neighbours.py`: {len(questions)} questions, k = {M.K}, the hits of "
        "benchmarks/moments.py. Target: the moment overlaps the answer sentence >= 0.92, moments <= 12 s on average. "
        "95 % bootstrap intervals over questions.",
        "",
        "| moment | overlaps the answer sentence: tune (0-11) | held-out (12-23) | all | moment s: tune | held-out | all |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, s in out.items():
        sp = s["splits"]
        lines.append(
            f"| {label} | {M.fmt(sp['tune']['moment_overlap'])} | {M.fmt(sp['held-out']['moment_overlap'])} | "
            f"{M.fmt(s['moment_overlap'])} | {M.fmt(sp['tune']['moment_s'], 1)} | {M.fmt(sp['held-out']['moment_s'], 1)} | "
            f"{M.fmt(s['moment_s'], 1)} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "moments-neighbours.json").write_text(json.dumps(out, indent=1, default=float), encoding="utf-8")
    (args.out / "moments-neighbours.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
