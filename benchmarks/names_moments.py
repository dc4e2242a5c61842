#!/usr/bin/env python
"""Names and numbers, by the cited moment: is the moment a citation plays the right log entry?

    python benchmarks/names_moments.py [--out benchmarks/results] [--seed 14]

The set is benchmarks/names_numbers.py's (built and transcribed there; the shipped transcripts
mean nothing is transcribed here): the maintenance and shipping logs, 24 entries each spoken one
after the other in one file, and the 4 questions of each entry (192 questions), asked over an
index of the two logs alone (ingested with `MediaQA` and default settings into a fresh index).

For dense and hybrid retrieval (the product's retrievers, as `MediaQA.search` and `MediaQA.ask`
use them), the top citation's moment (`mediarag.moments.best_moment`, the span `Citation.moment`
and the link play) is a hit when it overlaps the right entry with at least half of the moment
inside that entry. Three readings:

- ``search``: `MediaQA.search`'s first citation (a refused question has none: a miss);
- ``ask``: the first citation of `MediaQA.ask` with the extractive generator (its moment is the
  sentence the answer quotes);
- ``ranked``: the moment of the best-ranked passage whether or not the question is answered
  (the ranking and the moment alone, without the answer-or-not rule).

Also: the passage-span figures of names_numbers.py (overlap, strict), how long moments and
passages are, with bootstrap intervals and the paired hybrid - dense difference; split into the
entries 0-11 of each log (tune) and 12-23 (held-out).

Writes ``<out>/names_moments.md`` and ``<out>/names_moments.json``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import json  # noqa: E402
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

import names_numbers as nn  # noqa: E402

BOOTSTRAP = 2000
MODES = ("dense", "hybrid")
READINGS = ("search", "ask", "ranked", "passage overlap", "passage strict")


def inside(span: tuple[float, float] | None, entry: tuple[float, float], source: str | None, log_source: str) -> bool:
    """At least half of ``span`` lies inside ``entry`` of the right log (and they overlap)."""
    if span is None or source != log_source:
        return False
    start, end = span
    overlap = min(end, entry[1]) - max(start, entry[0])
    return overlap > 0 and overlap >= 0.5 * max(end - start, 1e-6)


def ingest(root: Path) -> Any:
    """The two logs in a fresh index (their shipped transcripts; nothing is transcribed)."""
    import gzip

    from mediarag import MediaQA, Settings
    from mediarag.transcribe import make_transcriber

    with gzip.open(nn.SHIPPED, "rt", encoding="utf-8") as handle:
        shipped = json.load(handle)
    settings = Settings(index_dir=root)
    transcriber = nn.ShippedTranscriber(make_transcriber(settings.transcription), shipped)
    qa = MediaQA(settings=settings, transcriber=transcriber)
    paths = sorted((nn.CACHE / "logs").glob("*.wav"))
    report = qa.ingest(paths)
    if report.failed or transcriber.new:
        raise SystemExit(f"ingest failed or transcribed anew (run names_numbers.py first): {report.failed}")
    return qa


def evaluate(qa: Any, questions: Sequence[Any], spans: dict[str, tuple[float, float]]) -> dict[str, Any]:
    from mediarag import Settings
    from mediarag.generate.extractive import ExtractiveGenerator
    from mediarag.generate.answer import Answerer
    from mediarag.moments import best_moment
    from mediarag.retrieve import make_retriever
    from mediarag.retrieve.citations import cite_for
    from mediarag.schema import Hit

    store = qa.store
    logs = {Path(s).stem.removesuffix("-log"): s for s in store.sources()}
    answerer = Answerer(ExtractiveGenerator())
    out: dict[str, Any] = {}
    for mode in MODES:
        retriever = make_retriever(Settings(retrieval=mode).retrieval, store, qa.embedder)
        rows = []
        for q in questions:
            kind = q.entry.split("-")[0]
            entry, source = spans[q.entry], logs[kind]
            hits = retriever.retrieve(q.text)
            search = cite_for(q.text, hits[0]) if hits else None
            answer = answerer.stream(q.text, hits, [], stream=False).answer
            first = answer.citations[0] if answer.citations else None
            if mode == "dense":
                ranked_hits = store.search(qa.embedder.embed_queries([q.text])[0], k=1)
            else:
                ranked_hits = [Hit(chunk=c.chunk, score=c.fused) for c in retriever.evidence(q.text).candidates[:1]]
            top = ranked_hits[0] if ranked_hits else None
            ranked = best_moment(q.text, top) if top is not None else None

            def span(c: Any) -> tuple[float, float] | None:
                return None if c is None or c.moment is None else (c.moment.start, c.moment.end)

            chunk = top.chunk if top is not None else None
            overlap = chunk is not None and chunk.source == source and min(chunk.end, entry[1]) > max(chunk.start, entry[0])
            rows.append({
                "question": q.text, "entry": q.entry, "keyed_by": q.keyed_by, "index": int(q.entry.split("-")[1]),
                "search": inside(span(search), entry, search.source if search else None, source),
                "ask": inside(span(first), entry, first.source if first else None, source),
                "ranked": inside((ranked.start, ranked.end) if ranked else None, entry, chunk.source if chunk else None, source),
                "passage overlap": bool(overlap),
                "passage strict": inside((chunk.start, chunk.end) if chunk else None, entry, chunk.source if chunk else None, source),
                "refused": not hits,
                "moment_s": (ranked.end - ranked.start) if ranked else None,
                "passage_s": (chunk.end - chunk.start) if chunk else None,
                "entry_s": entry[1] - entry[0],
                "moment": [ranked.start, ranked.end] if ranked else None, "entry_span": list(entry),
            })  # fmt: skip
        out[mode] = rows
    return out


def bootstrap(values: np.ndarray) -> list[float]:
    rng = np.random.default_rng(0)
    means = values[rng.integers(0, len(values), size=(BOOTSTRAP, len(values)))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def paired(a: np.ndarray, b: np.ndarray) -> list[float]:
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(a), size=(BOOTSTRAP, len(a)))
    d = (a[idx] - b[idx]).mean(axis=1)
    return [float(a.mean() - b.mean()), float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))]


def summarize(rows: dict[str, list[dict]]) -> dict[str, Any]:
    splits = {"all": lambda r: True, "tune (entries 0-11)": lambda r: r["index"] < 12,
              "held-out (entries 12-23)": lambda r: r["index"] >= 12}  # fmt: skip
    out: dict[str, Any] = {}
    for split, keep in splits.items():
        table: dict[str, Any] = {}
        for mode, items in rows.items():
            part = [r for r in items if keep(r)]
            cell: dict[str, Any] = {"n": len(part)}
            for reading in READINGS:
                v = np.array([float(r[reading]) for r in part])
                cell[reading] = [float(v.mean()), *bootstrap(v)]
            cell["refused"] = float(np.mean([r["refused"] for r in part]))
            cell["moment_s"] = float(np.mean([r["moment_s"] for r in part if r["moment_s"] is not None]))
            cell["passage_s"] = float(np.mean([r["passage_s"] for r in part if r["passage_s"] is not None]))
            cell["by_field"] = {f: float(np.mean([r["search"] for r in part if r["keyed_by"] == f]))
                                for f in ("name", "date", "qty", "code")}  # fmt: skip
            table[mode] = cell
        dense = [r for r in rows["dense"] if keep(r)]
        hybrid = [r for r in rows["hybrid"] if keep(r)]
        table["hybrid - dense"] = {
            reading: paired(np.array([float(r[reading]) for r in hybrid]), np.array([float(r[reading]) for r in dense]))
            for reading in READINGS
        }
        out[split] = table
    return out


def report(data: dict[str, Any], command: str) -> str:
    lines = [
        "# Names and numbers: the cited moment", "", f"Command: `{command}`  ",
        f"Date: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}", "",
        f"{data['questions']} questions over the maintenance and shipping logs of benchmarks/names_numbers.py (24 entries "
        "each in one file, 1.5 s apart, Whisper base transcripts), asked over an index of the two logs with default "
        "settings. A hit: the cited moment overlaps the right entry and at least half of it lies inside that entry. "
        "'search': `MediaQA.search`'s first citation (a refused question is a miss); 'ask': the extractive answer's "
        "first citation; 'ranked': the best-ranked passage's moment, answered or not; 'passage overlap' / 'passage "
        "strict': the same with the best-ranked passage's whole span (names_numbers.md's figures).", "",
    ]  # fmt: skip
    for split, table in data["summary"].items():
        lines += [f"### {split}", "", "| mode | n | " + " | ".join(READINGS) + " | refused | moment s | passage s |",
                  "|---" * (len(READINGS) + 6) + "|"]  # fmt: skip
        for mode in MODES:
            c = table[mode]
            cells = [f"{c[r][0]:.3f} [{c[r][1]:.3f}, {c[r][2]:.3f}]" for r in READINGS]
            lines.append(f"| {mode} | {c['n']} | " + " | ".join(cells) +
                         f" | {c['refused']:.3f} | {c['moment_s']:.1f} | {c['passage_s']:.1f} |")  # fmt: skip
        d = table["hybrid - dense"]
        lines.append("| hybrid - dense | | " + " | ".join(f"{d[r][0]:+.3f} [{d[r][1]:+.3f}, {d[r][2]:+.3f}]" for r in READINGS)
                     + " | | | |")  # fmt: skip
        f = {m: table[m]["by_field"] for m in MODES}
        lines += ["", "search hit by the field the question names (name / date / qty / code): "
                  + "; ".join(f"{m} {f[m]['name']:.2f} / {f[m]['date']:.2f} / {f[m]['qty']:.2f} / {f[m]['code']:.2f}"
                              for m in MODES), ""]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    entries = nn.make_entries(args.seed)
    questions = [q for q in nn.make_questions(entries) if q.kind in nn.LOG_KINDS]
    spans = nn.build_audio(entries)
    with tempfile.TemporaryDirectory(prefix="names-moments-") as tmp:
        qa = ingest(Path(tmp) / "index")
        rows = evaluate(qa, questions, spans)
    data = {"questions": len(questions), "summary": summarize(rows), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "names_moments.json").write_text(json.dumps(data, indent=1))
    command = "python benchmarks/names_moments.py " + " ".join(argv if argv is not None else sys.argv[1:])
    (args.out / "names_moments.md").write_text(report(data, command.strip()))
    nn.log(f"wrote {args.out / 'names_moments.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
