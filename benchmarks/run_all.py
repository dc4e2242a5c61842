#!/usr/bin/env python
"""Run every benchmark, one after the other, and report how long each took.

    python benchmarks/run_all.py [--quick] [--out benchmarks/results] [--only retrieval,asr,speed]

1. ``retrieval.py``: spoken-XQuAD retrieval (chunkers, embedders, cross-lingual set-ups,
   thresholds, PCA separation); builds the spoken corpus on first use.
2. ``asr.py``: WER/CER per language and backend, long-form against clip-by-clip.
3. ``speed.py``: ingest RTF and its breakdown, both transcription backends side by side,
   ``ask`` latency, search latency against index size, peak memory.
4. ``writers.py``: processes ingesting into one index at once; what one commit writes.

Each writes its own report (Markdown + JSON, figures where it has any) under ``--out``; this
script adds ``run_all.md`` with each one's command, exit status and wall time, so the cost of the
whole run is on record next to its results. Quick runs write under ``results/quick/`` so they never
overwrite the full results. A benchmark that fails does not stop the others; the
exit status is 1 if any failed. ``--quick`` passes ``--quick`` to each (a CI-sized run).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("retrieval", "asr", "speed", "writers")


def commands(quick: bool, out: Path, only: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``(name, argv)`` of each benchmark to run, in order."""
    runs = []
    for name in only:
        argv = [sys.executable, str(HERE / f"{name}.py"), "--out", str(out)]
        if quick:
            argv.append("--quick")
        runs.append((name, argv))
    return runs


def report(rows: Sequence[dict], quick: bool, started: str) -> str:
    total = sum(r["seconds"] for r in rows)
    lines = [
        "# All benchmarks" + (" (quick mode)" if quick else ""),
        "",
        f"Started {started}; {len(rows)} benchmark(s), **{total / 60:.1f} min** in all.",
        "",
        "| benchmark | command | exit | minutes | report |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        stem = f"{r['name']}_quick" if quick and r["name"] == "retrieval" else r["name"]
        lines.append(f"| {r['name']} | `{r['command']}` | {r['exit']} | {r['seconds'] / 60:.1f} | {stem}.md |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--out", type=Path, default=None, help="default results/, or results/quick/ with --quick")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset, in this order")
    args = parser.parse_args(argv)
    args.out = args.out or (HERE / "results" / "quick" if args.quick else HERE / "results")
    only = [name for name in args.only.split(",") if name]
    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "MEDIARAG_PROGRESS": "0"}
    rows = []
    for i, (name, cmd) in enumerate(commands(args.quick, args.out, only), 1):
        shown = " ".join(["python", str(Path(cmd[1]).relative_to(HERE.parent)), *cmd[2:]])
        print(f"[run_all] {i}/{len(only)} {shown}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(cmd, env=env)
        seconds = time.perf_counter() - t0
        print(f"[run_all] {name}: exit {code} after {seconds / 60:.1f} min", file=sys.stderr, flush=True)
        rows.append({"name": name, "command": shown, "exit": code, "seconds": seconds})
    args.out.mkdir(parents=True, exist_ok=True)
    text = report(rows, args.quick, started)
    (args.out / "run_all.md").write_text(text, encoding="utf-8")
    print(text)
    return 1 if any(r["exit"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
