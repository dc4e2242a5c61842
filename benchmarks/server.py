#!/usr/bin/env python
"""`mediarag serve` under load, against the same questions asked in this process.

    python benchmarks/server.py [--clients 50] [--seconds 60] [--passages 10000] [--unique 2000]
                                [--out benchmarks/results] [--quick]

1. **Index.** 10,000 passages of real text: XQuAD paragraphs and 1-3 sentence windows of them
   (English first, then es/de/ru/zh), ``--unique`` of them embedded with multilingual e5 (the
   default embedder) and, when fewer than ``--passages``, repeated with a little noise on their
   vectors (as ``speed.py --quick`` does) up to ``--passages``. Built once under
   ``benchmarks/.cache/server-index/``.
2. **One at a time.** 100 XQuAD questions through ``POST /v1/ask`` of ``mediarag serve`` (a
   subprocess on a free loopback port, extractive answers) and through ``MediaQA.ask`` in this
   process.
3. **Concurrent.** ``--clients`` concurrent HTTP clients (one asyncio event loop, httpx,
   keep-alive) and ``--clients`` threads calling ``MediaQA.ask``, each for ``--seconds`` in all,
   alternating in ``--rounds`` parts so both meet the same load from other processes. Every
   status but 200 and every exception counts as an error. The server's RSS is read from /proc
   after a 10 s concurrent warm-up on each side (which starts the worker threads), after each
   round and at the end; its CPU time per answer from /proc too.

Both sides run with ``OMP_NUM_THREADS=1`` (one query is too little work to share between threads).
Traffic goes to 127.0.0.1 only; every loop is bounded by ``--seconds`` and ``--max-requests``.
Writes ``server.md`` and ``server.json`` under ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from _machine import CpuMonitor, describe_git, describe_machine, git_info, machine_info  # noqa: E402

XQUAD = Path(os.environ.get("MEDIARAG_BENCH_DATA", ROOT.parent / "shared" / "data")) / "xquad"
CACHE = HERE / ".cache" / "server-index"
LANGUAGES = ("en", "es", "de", "ru", "zh")
SENTENCE_END = re.compile(r"(?<=[.!?。])\s+")
WARM_UP_S = 10.0
TARGETS = {"errors": 0, "p50_ratio": 1.3, "p50_slack_ms": 5.0, "memory_growth": 0.05}


def log(message: str) -> None:
    print(f"[server bench] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def summary(latencies_ms: list[float], seconds: float, errors: int) -> dict[str, Any]:
    return {
        "requests": len(latencies_ms),
        "errors": errors,
        "seconds": round(seconds, 1),
        "throughput_per_s": round(len(latencies_ms) / seconds, 2) if seconds else None,
        "mean_ms": round(float(np.mean(latencies_ms)), 1) if latencies_ms else None,
        "p50_ms": round(percentile(latencies_ms, 50), 1),
        "p95_ms": round(percentile(latencies_ms, 95), 1),
        "p99_ms": round(percentile(latencies_ms, 99), 1),
        "max_ms": round(max(latencies_ms), 1) if latencies_ms else None,
        "p50_ci95_ms": bootstrap_median(latencies_ms),
    }


def bootstrap_median(values: list[float], rounds: int = 1000) -> list[float] | None:
    """A 95 % bootstrap interval of the median."""
    if len(values) < 10:
        return None
    rng = np.random.default_rng(0)
    data = np.asarray(values)
    medians = np.median(rng.choice(data, size=(rounds, len(data)), replace=True), axis=1)
    return [round(float(np.percentile(medians, 2.5)), 1), round(float(np.percentile(medians, 97.5)), 1)]


# The index ------------------------------------------------------------------------------------


def passages_of(paragraph: str) -> list[tuple[int, int, str]]:
    """A paragraph whole, then every run of 1, 2 and 3 of its sentences: (first, end, text)."""
    sentences = [s.strip() for s in SENTENCE_END.split(paragraph) if s.strip()]
    out = [(0, len(sentences), " ".join(sentences))] if sentences else []
    for size in (1, 2, 3):
        if size < len(sentences):
            out += [(i, i + size, " ".join(sentences[i : i + size])) for i in range(len(sentences) - size + 1)]
    return out


def corpus(n: int) -> list[tuple[str, str, int, int, str]]:
    """``n`` passages as (source, language, first sentence, end sentence, text): all English
    ones first, then the other languages evenly."""
    rows: dict[str, list[tuple[str, str, int, int, str]]] = {}
    for lang in LANGUAGES:
        path = XQUAD / f"xquad.{lang}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        for a, article in enumerate(data["data"]):
            for p, paragraph in enumerate(article["paragraphs"]):
                source = f"xquad/{lang}/{a:02d}-{p}.mp4"
                rows.setdefault(lang, []).extend((source, lang, lo, hi, t) for lo, hi, t in passages_of(paragraph["context"]))
    chosen = rows.get("en", [])[:n]
    others = [r for lang in LANGUAGES[1:] for r in rows.get(lang, [])]
    if n > len(chosen) and others:
        step = len(others) / (n - len(chosen))
        chosen += [others[int(i * step)] for i in range(min(n - len(chosen), len(others)))]
    return chosen


def questions(n: int) -> list[str]:
    data = json.loads((XQUAD / "xquad.en.json").read_text(encoding="utf-8"))
    every = [qa["question"] for art in data["data"] for p in art["paragraphs"] for qa in p["qas"]]
    step = len(every) / n
    return [every[int(i * step)] for i in range(n)]


def build_index(n_passages: int, n_unique: int) -> tuple[Path, dict[str, Any]]:
    """The cached index of ``n_passages`` (``n_unique`` embedded, the rest repeated with noise)."""
    from mediarag.embed import E5Embedder
    from mediarag.schema import Chunk, SourceInfo, Transcript
    from mediarag.store import FaissStore

    where = CACHE / f"{n_passages}-{n_unique}"
    facts_file = where / "built.json"
    if facts_file.is_file():
        return where / "index", json.loads(facts_file.read_text())
    shutil.rmtree(where, ignore_errors=True)
    rows = corpus(n_unique)
    embedder = E5Embedder()
    log(f"embedding {len(rows):,} XQuAD passages with {embedder.name}")
    started = time.perf_counter()
    vectors = np.zeros((len(rows), embedder.dimension), dtype=np.float32)
    for i in range(0, len(rows), 250):
        vectors[i : i + 250] = embedder.embed_passages([r[4] for r in rows[i : i + 250]])
        log(f"embedded {min(i + 250, len(rows)):,}/{len(rows):,}")
    embed_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    base_rows, base_vectors, copy = list(rows), vectors, 1
    while len(rows) < n_passages:
        take = min(len(base_rows), n_passages - len(rows))
        noisy = base_vectors[:take] + rng.normal(0.0, 0.01, size=(take, base_vectors.shape[1])).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        rows += [(f"{s[:-4]}-copy{copy}.mp4", lang, lo, hi, t) for s, lang, lo, hi, t in base_rows[:take]]
        vectors = np.vstack([vectors, noisy])
        copy += 1
    store = FaissStore(where / "index", embedder_name=embedder.name)
    by_source: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_source.setdefault(row[0], []).append(i)
    for source, positions in by_source.items():
        lang = rows[positions[0]][1]
        chunks = [Chunk(id=f"{source}#{j}", source=source, start=rows[i][2] * 10.0, end=rows[i][3] * 10.0,
                        text=rows[i][4], language=lang) for j, i in enumerate(positions)]  # fmt: skip
        end = max(c.end for c in chunks)
        info = SourceInfo(source=source, sha256="0" * 64, duration=end, language=lang, languages=[lang], chunks=len(chunks))
        store.add_source(info, Transcript(source=source, language=lang, duration=end), chunks, vectors[positions])
    store.commit()
    facts = {"passages": len(store), "sources": len(by_source), "embedded": n_unique, "embed_s": round(embed_s, 1),
             "mean_chars": round(float(np.mean([len(r[4]) for r in rows])), 1)}  # fmt: skip
    facts_file.write_text(json.dumps(facts))
    return where / "index", facts


# In process -------------------------------------------------------------------------------------


def threads_asking(ask: Any, asked: list[str], clients: int, seconds: float, max_requests: int) -> tuple[list[float], int]:
    """``clients`` threads calling ``ask(question)`` in turn for ``seconds``: latencies (ms), errors."""
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(offset: int) -> None:
        i = offset
        while time.monotonic() < deadline and len(latencies) + errors[0] < max_requests:
            t0 = time.perf_counter()
            try:
                ask(asked[i % len(asked)])
            except Exception:  # noqa: BLE001 - counted
                with lock:
                    errors[0] += 1
            else:
                with lock:
                    latencies.append((time.perf_counter() - t0) * 1000)
            i += 1

    threads = [threading.Thread(target=worker, args=(c * 7,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Through HTTP -----------------------------------------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, asked: list[str], clients: int, seconds: float, max_requests: int) -> tuple[list[float], int, list[str]]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def one(offset: int) -> None:
            i = offset
            while time.monotonic() < deadline and len(latencies) + len(errors) < max_requests:
                t0 = time.perf_counter()
                try:
                    response = await client.post("/v1/ask", json={"question": asked[i % len(asked)]})
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                    else:
                        response.json()
                        latencies.append((time.perf_counter() - t0) * 1000)
                except Exception as exc:  # noqa: BLE001 - counted
                    errors.append(f"{type(exc).__name__}: {exc}")
                i += 1

        await asyncio.gather(*(one(c * 7) for c in range(clients)))
    return latencies, len(errors), errors[:5]


class Served:
    """``mediarag serve`` on the index, in a subprocess on a free loopback port."""

    def __init__(self, index: Path, work: Path) -> None:
        import httpx

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(work / "server.log", "w+")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mediarag.cli", "serve", "--index", str(index), "--port", str(port), "--data-dir", str(work / "data")],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the server did not start:\n{Path(self.log.name).read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def sequential(ask: Any, asked: list[str]) -> list[float]:
    """Latencies (ms) of ``ask`` over the questions one at a time, after 10 warm-up questions."""
    for q in asked[-10:]:
        ask(q)
    out = []
    for q in asked[:100]:
        t0 = time.perf_counter()
        ask(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run(index: Path, asked: list[str], clients: int, seconds: float, rounds: int, max_requests: int, work: Path) -> dict[str, Any]:
    """Both sides, the concurrent runs in ``rounds`` alternating parts (HTTP, then in process) so
    that both meet the same load from other processes."""
    import httpx

    from mediarag import MediaQA

    served = Served(index, work)
    try:
        client = httpx.Client(base_url=served.url, timeout=120)

        def ask_http(question: str) -> None:
            response = client.post("/v1/ask", json={"question": question})
            response.raise_for_status()
            response.json()

        qa = MediaQA(index)
        qa.warm_up(ingest=False)
        seq_http, seq_local = sequential(ask_http, asked), sequential(qa.ask, asked)
        log(f"one at a time: HTTP p50 {percentile(seq_http, 50):.1f} ms, in process {percentile(seq_local, 50):.1f} ms")
        asyncio.run(load(served.url, asked, clients, WARM_UP_S, max_requests))  # its threads start here
        threads_asking(qa.ask, asked, clients, WARM_UP_S, max_requests)
        before, local_before = rss_mb(served.process.pid), rss_mb(os.getpid())
        local_samples: list[float | None] = []
        samples: list[tuple[float, float | None]] = []
        http_ms: list[float] = []
        local_ms: list[float] = []
        http_errors, local_errors, examples = 0, 0, []
        http_wall = local_wall = server_cpu = client_cpu = local_cpu = 0.0
        others: list[float] = []
        t_start = time.monotonic()
        for r in range(rounds):
            part = seconds / rounds
            cpu0, own0 = cpu_seconds(served.process.pid), cpu_seconds()
            with CpuMonitor() as cpu:
                latencies, errors, seen = asyncio.run(load(served.url, asked, clients, part, max_requests))
            server_cpu += cpu_seconds(served.process.pid) - cpu0
            client_cpu += cpu_seconds() - own0
            http_ms += latencies
            http_errors += errors
            examples += seen
            http_wall += cpu.wall_s
            others.append(cpu.others_cores or 0.0)
            samples.append((round(time.monotonic() - t_start, 1), rss_mb(served.process.pid)))
            own0 = cpu_seconds()
            with CpuMonitor() as cpu:
                latencies, errors = threads_asking(qa.ask, asked, clients, part, max_requests)
            local_cpu += cpu_seconds() - own0
            local_samples.append(rss_mb(os.getpid()))
            local_ms += latencies
            local_errors += errors
            local_wall += cpu.wall_s
            log(f"round {r + 1}/{rounds}: HTTP {len(http_ms):,} answers, in process {len(local_ms):,}")
        after = rss_mb(served.process.pid)
        client.close()
    finally:
        served.stop()
    http = {"sequential": summary(seq_http, sum(seq_http) / 1000, 0),
            "concurrent": summary(http_ms, http_wall, http_errors), "error_examples": examples[:5],
            "rss_mb": {"before": before, "after": after, "samples": samples,
                       "growth": round(after / before - 1, 4) if before and after else None},
            "cpu_ms_per_request": {"server": round(server_cpu * 1000 / max(len(http_ms), 1), 1),
                                   "client": round(client_cpu * 1000 / max(len(http_ms), 1), 1)},
            "others_cores": round(float(np.mean(others)), 2)}  # fmt: skip
    local = {"sequential": summary(seq_local, sum(seq_local) / 1000, 0),
             "concurrent": summary(local_ms, local_wall, local_errors),
             "rss_mb": {"before": local_before, "samples": local_samples},
             "cpu_ms_per_request": round(local_cpu * 1000 / max(len(local_ms), 1), 1)}  # fmt: skip
    log(f"HTTP {http['concurrent']}; in process {local['concurrent']}; RSS {before} -> {after} MB")
    return {"http": http, "in_process": local}


# Report -----------------------------------------------------------------------------------------


def verdicts(results: dict[str, Any]) -> dict[str, Any]:
    http, local = results["http"], results["in_process"]
    out = {"no_failed_request": http["concurrent"]["errors"] == 0}
    for mode in ("sequential", "concurrent"):
        bound = local[mode]["p50_ms"] * TARGETS["p50_ratio"] + TARGETS["p50_slack_ms"]
        out[f"p50_{mode}"] = {"http_ms": http[mode]["p50_ms"], "in_process_ms": local[mode]["p50_ms"],
                              "bound_ms": round(bound, 1), "ratio": round(http[mode]["p50_ms"] / local[mode]["p50_ms"], 3),
                              "met": http[mode]["p50_ms"] <= bound}  # fmt: skip
    cpu_http = http["cpu_ms_per_request"]["server"] + http["cpu_ms_per_request"]["client"]
    cpu_local = local["cpu_ms_per_request"]
    bound = cpu_local * TARGETS["p50_ratio"] + TARGETS["p50_slack_ms"]
    out["cpu_per_answer"] = {"http_ms": round(cpu_http, 1), "in_process_ms": cpu_local, "bound_ms": round(bound, 1),
                             "ratio": round(cpu_http / cpu_local, 3), "met": cpu_http <= bound}  # fmt: skip
    growth = http["rss_mb"]["growth"]
    out["memory_flat"] = {"growth": growth, "met": growth is not None and abs(growth) <= TARGETS["memory_growth"]}
    return out


def report(results: dict[str, Any], out: Path, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "server.json").write_text(json.dumps(results, indent=1))
    http, local, v, idx = results["http"], results["in_process"], results["verdicts"], results["index"]
    rows = []  # mean latency: a closed loop of N clients has mean = N / throughput
    for label, part in (("in process, 1 at a time", local["sequential"]), ("HTTP, 1 client at a time", http["sequential"]),
                        (f"in process, {results['clients']} threads", local["concurrent"]),
                        (f"HTTP, {results['clients']} concurrent clients", http["concurrent"])):  # fmt: skip
        ci = part["p50_ci95_ms"]
        p50 = f"{part['p50_ms']} ({ci[0]}-{ci[1]})" if ci else f"{part['p50_ms']}"
        rows.append(f"| {label} | {part['requests']:,} | {part['errors']} | {part['throughput_per_s']} | {part['mean_ms']} | "
                    f"{p50} | {part['p95_ms']} | {part['p99_ms']} | {part['max_ms']} |")  # fmt: skip
    rss = http["rss_mb"]
    met = lambda ok: "met" if ok else "**not met**"  # noqa: E731
    text = f"""# `mediarag serve` under load

Command: `{command}`

Machine: {describe_machine(results['machine'])}; {describe_git(results['git'])}.

Index: {idx['passages']:,} passages in {idx['sources']:,} sources (FaissStore, flat), XQuAD paragraphs and 1-3
sentence windows, mean {idx['mean_chars']} characters; {idx['embedded']:,} distinct passages embedded with
multilingual-e5-small, the rest repeats of them with noise on the vectors. Extractive answers, k = 4.
Questions: {results['questions']} English XQuAD questions, asked in turn by every client. `OMP_NUM_THREADS=1` on
both sides. Each side's concurrent run lasts {results['seconds']} s in all. Latency is measured by the client (HTTP: from sending
the request to having parsed the JSON answer), in ms; p50 with its 95 % bootstrap interval.

| run | requests | errors | per s | mean ms | p50 ms | p95 ms | p99 ms | max ms |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Server memory (RSS, after the 1-at-a-time run and {WARM_UP_S:g} s of concurrent warm-up, then after each round):
{rss['before']} MB before, {rss['after']} MB after ({rss['growth']:+.1%}); after each round:
{', '.join(f"{m}" for _, m in rss['samples'])} MB. For comparison, the benchmark process itself (the in-process
side, {results['clients']} threads): {local['rss_mb']['before']} MB after its warm-up, then
{', '.join(f"{m}" for m in local['rss_mb']['samples'])} MB after each round.

CPU per answer during the concurrent runs: server {http['cpu_ms_per_request']['server']} ms and client
{http['cpu_ms_per_request']['client']} ms through HTTP, {local['cpu_ms_per_request']} ms in process (client included).
The concurrent runs alternate in {results['rounds']} rounds (HTTP, then in process) so both meet the same load
from other processes; those used {http['others_cores']} of the 2 cores on average during the HTTP rounds.

## Targets

| target | figure | verdict |
|---|---|---|
| no failed request at {results['clients']} concurrent clients | {http['concurrent']['errors']} errors | {met(v['no_failed_request'])} |
| p50 through HTTP <= 1.3 x in-process p50 + 5 ms, 1 at a time | {v['p50_sequential']['http_ms']} vs bound {v['p50_sequential']['bound_ms']} (ratio {v['p50_sequential']['ratio']}) | {met(v['p50_sequential']['met'])} |
| the same at {results['clients']} concurrent | {v['p50_concurrent']['http_ms']} vs bound {v['p50_concurrent']['bound_ms']} (ratio {v['p50_concurrent']['ratio']}) | {met(v['p50_concurrent']['met'])} |
| the same for CPU time per answer at {results['clients']} concurrent (server + client) | {v['cpu_per_answer']['http_ms']} vs bound {v['cpu_per_answer']['bound_ms']} (ratio {v['cpu_per_answer']['ratio']}) | {met(v['cpu_per_answer']['met'])} |
| server memory flat (within 5 %) | {rss['growth']:+.1%} | {met(v['memory_flat']['met'])} |
"""
    if http["error_examples"]:
        text += "\nErrors seen: " + "; ".join(http["error_examples"]) + "\n"
    (out / "server.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--unique", type=int, default=2_000, help="passages actually embedded (the rest repeat)")
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4, help="alternating HTTP / in-process parts of --seconds")
    parser.add_argument("--max-requests", type=int, default=200_000, help="a bound on each concurrent run")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--quick", action="store_true", help="10 clients, 10 s, 2,000 passages (checks it runs)")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.seconds, args.passages, args.unique, args.out = 10, 10.0, 2_000, 500, args.out / "quick"
    index, facts = build_index(args.passages, min(args.unique, args.passages))
    asked = questions(args.questions)
    with tempfile.TemporaryDirectory(prefix="mediarag-server-bench-") as tmp:
        both = run(index, asked, args.clients, args.seconds, args.rounds, args.max_requests, Path(tmp))
    results = {"machine": machine_info(), "git": git_info(), "index": facts, "clients": args.clients,
               "seconds": args.seconds, "rounds": args.rounds, "questions": len(asked), **both}  # fmt: skip
    results["verdicts"] = verdicts(results)
    command = "python benchmarks/server.py" + (" --quick" if args.quick else
                                               f" --clients {args.clients} --seconds {args.seconds:g} --rounds {args.rounds} --passages {args.passages} --unique {args.unique}")  # fmt: skip
    report(results, args.out, command)
    print((args.out / "server.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
