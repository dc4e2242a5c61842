#!/usr/bin/env python
"""Many writers on one index, and what one commit writes.

    python benchmarks/writers.py [--out benchmarks/results] [--quick]

1. **Concurrent ingest.** N processes (N = 2, 4) run ``mediarag ingest`` at the same time into
   one index, each on its own real FLEURS clips (tiny.en, the default embedder). Every file that
   any process reports as ingested must be in the index afterwards. Reports wall time per N.
2. **Write volume per commit.** An index of 10,000 and of 100,000 passages (384-d vectors, 20
   passages per file, like a real index), then one small file (3 passages) committed into it:
   bytes written and seconds, for this code (format 2, segments) and for mediarag 0.1 (format 1,
   commit 5d00147, run from ``git archive`` of that commit).

Writes ``writers.md`` and ``writers.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from core.machine import describe_git, describe_machine, git_info, machine_info  # noqa: E402

CLIPS = ROOT.parent / "shared" / "data" / "speech" / "fleurs"
BEFORE = "5d00147"  # mediarag 0.1: every commit rewrote the whole index

# Builds an index of ``n`` passages in one commit, then commits one small file and reports
# the bytes of every file that commit created or changed. Runs with either code base.
VOLUME = """
import json, sys, time, numpy as np
from pathlib import Path
from mediarag.schema import Chunk, SourceInfo, Transcript
from mediarag.store import FaissStore
index_dir, n = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
def add(store, name, count):
    chunks = [Chunk(id=f"{name}-{i}", source=name, start=float(i), end=float(i) + 1, text=f"passage {i} of {name}")
              for i in range(count)]
    info = SourceInfo(source=name, sha256=name.ljust(64, "0")[:64], duration=count + 1.0, language="en", chunks=count)
    store.add_source(info, Transcript(source=name, language="en", duration=count + 1.0), chunks,
                     rng.standard_normal((count, 384)).astype(np.float32))
store = FaissStore(index_dir, embedder_name="bench")
for f in range(n // 20):
    add(store, f"file-{f:06d}", 20)
store.commit()
before = {p: p.stat().st_mtime_ns for p in index_dir.rglob("*") if p.is_file()}
size = sum(p.stat().st_size for p in before)
add(store, "small", 3)
t0 = time.perf_counter()
store.commit()
seconds = time.perf_counter() - t0
written = [p for p in index_dir.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns]
print(json.dumps({"passages": n, "index_bytes": size, "written_bytes": sum(p.stat().st_size for p in written),
                  "written_files": len(written), "commit_seconds": seconds}))
"""


def concurrent_ingest(writers: int, files_each: int, work: Path) -> dict:
    """``writers`` CLI processes ingesting their own clips into one index at once."""
    clips = sorted(CLIPS.glob("fleurs-*.ogg"))
    needed = writers * files_each
    if len(clips) < needed:
        raise SystemExit(f"need {needed} FLEURS clips in {CLIPS}, found {len(clips)}")
    index = work / f"index-{writers}"
    shutil.rmtree(index, ignore_errors=True)
    env = {**os.environ, "MEDIARAG_PROGRESS": "0", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    groups = [clips[w * files_each : (w + 1) * files_each] for w in range(writers)]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mediarag.cli", "ingest", *map(str, group), "--index", str(index),
             "--model", "tiny.en", "--language", "auto", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )  # fmt: skip
        for group in groups
    ]
    reported: list[str] = []
    failures: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"ingested": [], "failed": [err[-300:]]}
        reported += [i["source"] for i in report["ingested"]]
        failures += [str(f) for f in report["failed"]]
    wall = time.perf_counter() - started
    listed = subprocess.run(
        [sys.executable, "-m", "mediarag.cli", "sources", "--index", str(index), "--json"],
        capture_output=True, text=True, env=env, cwd=ROOT, check=True,
    ).stdout  # fmt: skip
    indexed = {s["source"] for s in json.loads(listed)["sources"]}
    lost = sorted(set(reported) - indexed)
    return {"writers": writers, "files": needed, "reported_ingested": len(reported), "in_index": len(indexed),
            "lost": lost, "failed": failures, "wall_seconds": round(wall, 1)}  # fmt: skip


def write_volume(n: int, code: Path, work: Path) -> dict:
    index = work / f"volume-{code.name}-{n}"
    shutil.rmtree(index, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", VOLUME, str(index), str(n)], capture_output=True, text=True,
                         env=env, check=True, cwd=work).stdout  # fmt: skip
    shutil.rmtree(index, ignore_errors=True)
    return json.loads(out)


def old_code(work: Path) -> Path:
    """mediarag 0.1's package, from ``git archive`` of its commit."""
    target = work / "before"
    if not (target / "mediarag").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", BEFORE, "mediarag"], capture_output=True, check=True, cwd=ROOT).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def report(results: dict, out: Path, command: str) -> None:
    lines = [
        "# Many writers on one index",
        "",
        f"Command: `{command}`",
        "",
        describe_machine(results["machine"]),
        describe_git(results["git"]),
        "",
        "## Concurrent ingest",
        "",
        "N `mediarag ingest` processes at once, each on its own FLEURS clips (tiny.en, multilingual-e5-small), "
        "into one index.",
        "",
        "| processes | files | reported ingested | in the index afterwards | lost | failed | wall |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["concurrent"]:
        lines.append(f"| {r['writers']} | {r['files']} | {r['reported_ingested']} | {r['in_index']} | "
                     f"{len(r['lost'])} | {len(r['failed'])} | {r['wall_seconds']} s |")  # fmt: skip
    lines += [
        "",
        "## What one commit writes",
        "",
        "One file of 3 passages committed into an index of n passages (384-d, 20 per file).",
        "",
        "| passages | code | index size | written by the commit | files written | commit time |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["volume"]:
        lines.append(f"| {r['passages']:,} | {r['code']} | {r['index_bytes'] / 1e6:.1f} MB | "
                     f"{r['written_bytes'] / 1e3:,.1f} kB | {r['written_files']} | {r['commit_seconds'] * 1000:.0f} ms |")  # fmt: skip
    (out / "writers.md").write_text("\n".join(lines) + "\n")
    (out / "writers.json").write_text(json.dumps(results, indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--quick", action="store_true", help="N=2 only, 2 files each, 10k passages")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args(argv)
    out = args.out / "quick" if args.quick else args.out
    out.mkdir(parents=True, exist_ok=True)
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    results: dict = {"machine": machine_info(), "git": git_info(), "concurrent": [], "volume": []}
    with tempfile.TemporaryDirectory(prefix="mediarag-writers-") as tmp:
        work = Path(tmp)
        for writers in (2,) if args.quick else (2, 4):
            print(f"concurrent ingest: {writers} processes", file=sys.stderr, flush=True)
            results["concurrent"].append(concurrent_ingest(writers, 2 if args.quick else 5, work))
        for label, code in (("format 2 (this code)", ROOT), (f"format 1 ({BEFORE})", old_code(work))):
            for n in sizes:
                print(f"write volume: {label}, {n:,} passages", file=sys.stderr, flush=True)
                results["volume"].append({**write_volume(n, code, work), "code": label})
    command = "python benchmarks/writers.py" + (" --quick" if args.quick else "")
    report(results, out, command)
    print((out / "writers.md").read_text())
    lost = [r for r in results["concurrent"] if r["lost"]]
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
