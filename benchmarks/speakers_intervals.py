"""Intervals for the speaker benchmark's figures, from its JSON (benchmarks/speakers.py).

- DER of a set: a 95 % bootstrap interval over files (files drawn with replacement, 10,000
  draws, DER accumulated as pyannote does: summed errors over summed scored speech). With 12
  AMI excerpts of 30 s the interval is wide; the call is one file, so it has none.
- Counts (one-speaker clips given one label, speaker counts right, false accepts and rejects
  at the chosen voiceprint threshold): 95 % Wilson intervals.

Usage::

    python benchmarks/speakers_intervals.py            # reads results/speakers.json, writes results/speakers-intervals.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mediarag.speakers.config import NAME_THRESHOLDS  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DRAWS = 10_000


def bootstrap_der(rows: list[dict[str, Any]], key: str = "der", seed: int = 0) -> tuple[float, float] | None:
    """95 % interval of the accumulated ``key`` (a fraction of scored speech) over files."""
    if len(rows) < 2:
        return None
    errors = np.array([r[key] * r["scored_s"] for r in rows])
    scored = np.array([r["scored_s"] for r in rows])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(rows), size=(DRAWS, len(rows)))
    values = errors[picks].sum(axis=1) / np.maximum(scored[picks].sum(axis=1), 1e-9)
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def interval(bounds: tuple[float, float] | None) -> str:
    return "- (one file)" if bounds is None else f"{pct(bounds[0])} - {pct(bounds[1])}"


def report(results: dict[str, Any], source: Path) -> str:
    lines = ["# Speaker diarization: intervals", "", f"Command: `python benchmarks/speakers_intervals.py --results {source.name}`",
             f"(from `{results.get('command', '?')}`).", "",
             f"DER: 95 % bootstrap intervals over files ({DRAWS:,} draws, summed errors over summed scored speech). "
             "Counts: 95 % Wilson intervals.", ""]  # fmt: skip
    if "der" in results:
        lines += ["| setup | set | files | DER | 95 % interval | confusion 95 % interval | one speaker (reference speech) | 95 % interval |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for row in results["der"]:
            for name in ("call", "ami", "ami_train", "ami_dev"):
                t = row[name]
                rows = t["rows"]
                base_rows = [{**r, "der": r["baseline"]} for r in rows]
                lines.append(f"| {row['setup']} | {name} | {len(rows)} | {pct(t['der'])} | {interval(bootstrap_der(rows))} | "
                             f"{interval(bootstrap_der(rows, 'confusion'))} | {pct(t['baseline'])} | {interval(bootstrap_der(base_rows))} |")  # fmt: skip
            counts = row["ami"]
            low, high = wilson(counts["count_right"], counts["files"])
            lines.append(f"| {row['setup']} | AMI speaker count right | {counts['files']} | {counts['count_right']}/{counts['files']} | "
                         f"{pct(low)} - {pct(high)} | | | |")  # fmt: skip
        lines.append("")
    if "one_speaker" in results:
        o = results["one_speaker"]
        low, high = wilson(o["one_label"], o["clips"])
        lines += [f"One-speaker clips given one label: {o['one_label']}/{o['clips']} (95 % interval {pct(low)} - {pct(high)}).", ""]
    if "threshold" in results:
        th = results["threshold"]
        shipped = NAME_THRESHOLDS["ecapa"]
        for value in sorted({shipped, *([th["chosen"]] if th.get("chosen") is not None else [])}):
            row = next((g for g in th["grid"] if abs(g["threshold"] - value) < 1e-9), None)
            if row is None:
                continue
            what = "the default (NAME_THRESHOLDS)" if value == shipped else "this run's choice"
            lines += [f"Voiceprint threshold {value:.2f}, {what}:", "",
                      "| set | false accept (95 % interval) | false reject (95 % interval) |", "|---|---|---|"]  # fmt: skip
            for name in ("call", "ami", "fleurs"):
                s = th["sets"][name]
                fa_n = round(row[name]["false_accept"] * s["different_n"])
                fr_n = round(row[name]["false_reject"] * s["same_n"])
                fa_i, fr_i = wilson(fa_n, s["different_n"]), wilson(fr_n, s["same_n"])
                lines.append(f"| {name} | {fa_n}/{s['different_n']} ({pct(fa_i[0])} - {pct(fa_i[1])}) | "
                             f"{fr_n}/{s['same_n']} ({pct(fr_i[0])} - {pct(fr_i[1])}) |")  # fmt: skip
            lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS / "speakers.json")
    parser.add_argument("--out", type=Path, default=RESULTS / "speakers-intervals.md")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text(encoding="utf-8"))
    args.out.write_text(report(results, args.results), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
