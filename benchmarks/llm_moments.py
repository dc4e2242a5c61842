#!/usr/bin/env python
"""Where a local model's answer is cited: recorded replies replayed through today's library.

    python benchmarks/llm_moments.py [--runs results/moments-llm-3/tune.json ...] [--out benchmarks/results]

The replies are those the packaged models gave in benchmarks/llm_answers.py's runs (default:
``results/moments-llm-3/{tune,held-out,held-out-2}.json``, the prompt of the ``library``
variant). Each is replayed by `mediarag.testing.ScriptedChat`, a chat generator whose "model"
returns that reply, through `Answerer` and `ChatGenerator` as `MediaQA.ask` runs them, over the
same index and retrieved passages as benchmarks/moments.py. So what is measured is the library's handling of a
given reply: which passage the answer cites and which moment of it; the model itself is not
run (its wording is what it wrote then).

A hit: the answer's first citation is in the right file and its moment overlaps the sentence
that holds the gold answer. "As recorded" is the figure the run itself wrote (the library of
that day); "now" is today's. Rows whose reply was a refusal or was replaced by the extractive
answer (fallback) are counted apart. Intervals: 95 % bootstrap over questions; the paired
difference over the questions both read.

Writes ``<out>/llm-moments.md`` and ``.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import moments  # noqa: E402

from mediarag.testing import ScriptedChat  # noqa: E402

RUNS = [HERE / "results" / "moments-llm-3" / f"{name}.json" for name in ("tune", "held-out", "held-out-2")]
VARIANT = "library"


def recorded_rows(paths: Sequence[Path]) -> dict[str, list[dict[str, Any]]]:
    """Each model's rows of the ``library`` variant over ``paths`` (a question once per model)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for path in paths:
        for name, run in json.loads(path.read_text(encoding="utf-8"))["runs"].items():
            if name.endswith(f" {VARIANT}"):
                for r in run.get("rows", []):
                    out.setdefault(name.rsplit(" ", 1)[0], {})[r["id"]] = r
    return {model: list(rows.values()) for model, rows in out.items()}


def replay(model_rows: list[dict[str, Any]], questions: dict[str, Any]) -> list[dict[str, Any]]:
    from mediarag.generate.answer import Answerer
    from mediarag.generate.prompt import is_refusal

    rows = []
    for r in model_rows:
        q = questions[r["id"]]
        if not q.hits:
            continue
        generator = ScriptedChat(r["raw"], context_window=4096, max_tokens=96)
        answer = Answerer(generator).stream(q.text, q.hits, stream=False).answer
        c = answer.citations[0] if answer.citations else None
        m = c.moment if c is not None else None
        rows.append({
            "id": r["id"], "article": q.article, "answer": answer.text, "f1": r["f1"],
            "kind": "refusal" if is_refusal(r["raw"]) else "fallback" if answer.fallback else "model",
            "recorded": bool(r["moment_overlap"]),
            "now": bool(c and c.source == q.source and m and moments.overlaps((m.start, m.end), q.gold_span)),
            "moment_s": (m.end - m.start) if m else None,
        })  # fmt: skip
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    interval = moments.interval
    out: dict[str, Any] = {}
    for kind in ("model", "fallback", "refusal"):
        part = [r for r in rows if r["kind"] == kind]
        right = [r for r in part if r["f1"] > 0.5]
        out[kind] = {
            "n": len(part),
            "recorded": interval([float(r["recorded"]) for r in part]),
            "now": interval([float(r["now"]) for r in part]),
            "difference": interval([float(r["now"]) - float(r["recorded"]) for r in part]),
            "right_answers": {"n": len(right), "recorded": interval([float(r["recorded"]) for r in right]),
                              "now": interval([float(r["now"]) for r in right])},
            "held_out": interval([float(r["now"]) - float(r["recorded"]) for r in part if r["article"] not in moments.TUNE_ARTICLES]),
            "moment_s": interval([r["moment_s"] for r in part if r["moment_s"] is not None]),
        }  # fmt: skip
    return out


def report(data: dict[str, Any]) -> str:
    fmt = moments.fmt
    lines = [
        "# Where a local model's answer is cited (recorded replies, replayed)",
        "",
        f"`{data['command']}` on {data['date']}; replies of {', '.join(data['runs'])} (prompt `{VARIANT}`).",
        "A hit: the first citation's moment overlaps the sentence holding the gold answer. "
        "'Right answers': token F1 above 0.5. Intervals: 95 % bootstrap.",
        "",
        "| model | replies | as recorded | now | now - recorded (paired) | held-out articles only | right answers: recorded -> now | moment s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, s in data["models"].items():
        for kind in ("model", "fallback"):
            k = s[kind]
            if not k["n"]:
                continue
            ra = k["right_answers"]
            lines.append(
                f"| {model}, {'model reply' if kind == 'model' else 'extractive fallback'} | {k['n']} | {fmt(k['recorded'])} | "
                f"{fmt(k['now'])} | {fmt(k['difference'])} | {fmt(k['held_out'])} | "
                f"{ra['recorded']['mean']:.3f} -> {ra['now']['mean']:.3f} of {ra['n']} | {k['moment_s']['mean']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, nargs="+", default=RUNS)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    _, questions = moments.prepare(argparse.Namespace(quick=False))
    by_id = {q.id: q for q in questions}
    data: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "runs": [str(p.relative_to(HERE)) if p.is_relative_to(HERE) else str(p) for p in args.runs],
        "models": {},
        "rows": {},
    }
    for model, rows in recorded_rows(args.runs).items():
        replayed = replay(rows, by_id)
        data["models"][model] = summarize(replayed)
        data["rows"][model] = replayed
        moments.log(f"{model}: {data['models'][model]['model']['now']['mean']:.3f} now, "
                    f"{data['models'][model]['model']['recorded']['mean']:.3f} as recorded")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "llm-moments.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    (args.out / "llm-moments.md").write_text(report(data), encoding="utf-8")
    print(report(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
