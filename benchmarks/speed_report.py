"""The Markdown report of the speed benchmark, and its summary table against the targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.report import header, table

TARGETS = {
    "ingest_rtf": 0.15,  # wall time / audio duration, <=
    "ratio_vs_direct": 1.2,  # our ingest / faster-whisper direct, <=
    "ask_p50_ms": 50.0,  # <=
    "peak_rss_mb": 2048.0,  # <= 2 GB
}


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "PASS" if value <= target else "MISS"


def results_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """``(measure, value, target, verdict)`` rows of the summary table."""
    rows: list[tuple[str, str, str, str]] = []
    ing = results.get("ingest")
    if ing:
        secs = ing["audio_seconds"]
        rows.append((f"Ingest RTF, {secs:.0f} s file (median of {ing['repetitions']})",
                     f"{ing['rtf']:.3f} ({ing['ingest_s']['median']:.1f} s)",
                     f"<= {TARGETS['ingest_rtf']}", verdict(ing["rtf"], TARGETS["ingest_rtf"])))
        rows.append(("Ingest / faster-whisper `WhisperModel.transcribe`",
                     f"{ing['ratio_vs_plain']:.2f} ({ing['direct_plain_s']['median']:.1f} s direct)",
                     f"<= {TARGETS['ratio_vs_direct']}",
                     verdict(ing["ratio_vs_plain"], TARGETS["ratio_vs_direct"])))
        rows.append(("Ingest / faster-whisper `BatchedInferencePipeline` (batch 8)",
                     f"{ing['ratio_vs_batched']:.2f} ({ing['direct_batched_s']['median']:.1f} s direct)",
                     f"<= {TARGETS['ratio_vs_direct']}",
                     verdict(ing["ratio_vs_batched"], TARGETS["ratio_vs_direct"])))
    ask = results.get("ask")
    if ask:
        rows.append((f"`ask` p50 over {ask['passages']:,} passages ({ask['questions']} questions)",
                     f"{ask['ask_ms']['median']:.1f} ms", f"<= {TARGETS['ask_p50_ms']:.0f} ms",
                     verdict(ask["ask_ms"]["median"], TARGETS["ask_p50_ms"])))
        rows.append(("`ask` p95", f"{ask['ask_ms']['p95']:.1f} ms", "(none)", ""))
    mem = results.get("memory")
    if mem:
        rows.append((f"Peak RSS, full ingest of a {mem['minutes']:g}-minute file",
                     f"{mem['peak_rss_mb']:.0f} MB", f"<= {TARGETS['peak_rss_mb']:.0f} MB",
                     verdict(mem["peak_rss_mb"], TARGETS["peak_rss_mb"])))
        rows.append((f"Ingest RTF, {mem['minutes']:g}-minute file (1 run)", f"{mem['rtf']:.3f} "
                     f"({mem['ingest_s']:.0f} s)", f"<= {TARGETS['ingest_rtf']}",
                     verdict(mem["rtf"], TARGETS["ingest_rtf"])))
    return rows  # fmt: skip


def render_markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    out = header("mediarag speed and memory benchmark", meta, mode="quick" if meta["quick"] else "full",
                 total_s=meta["total_s"])  # fmt: skip
    out += [
        "## Results",
        "",
        table(["measure", "value", "target", ""], results_rows(results)),
        "",
    ]
    load_rows = [
        (name, f"{part['cpu']['wall_s']:.0f}", f"{part['cpu']['own_cores']:.2f}",
         "n/a" if part["cpu"]["others_cores"] is None else f"{part['cpu']['others_cores']:.2f}",
         f"{part['cpu']['load_start']:.1f} / {part['cpu']['load_end']:.1f}")
        for name, part in [(n, results.get(n)) for n in ("ingest", "ask", "memory")]
        if part and "cpu" in part
    ]  # fmt: skip
    if load_rows:
        waited = meta.get("wait_for_idle")
        out += [
            "Machine load while each part ran (cores busy on average; other processes slow every "
            "timing down, so read figures taken with other processes above ~0.2 cores with care):",
            "",
            table(["part", "wall s", "benchmark cores", "other processes' cores", "load avg start / end"], load_rows),
            "",
        ]
        if waited:
            out += [
                f"Before starting it waited {waited['waited_s']:.0f} s for the machine to go quiet "
                f"({'reached' if waited['idle'] else 'not reached'}; other processes then used "
                f"{waited['last_others_cores'] or 0:.2f} cores).",
                "",
            ]
    ing = results.get("ingest")
    if ing:
        c = ing["counts"]
        steps = ing["steps_s"]
        total = ing["steps_total_s"]
        rows = [(k, f"{v:.2f}", f"{v / ing['audio_seconds']:.4f}", f"{100 * v / total:.0f} %") for k, v in steps.items()]
        rows.append(("**sum of steps**", f"{total:.2f}", f"{total / ing['audio_seconds']:.4f}", "100 %"))
        rows.append(("`MediaQA.ingest` end to end", f"{ing['ingest_s']['median']:.2f}", f"{ing['rtf']:.4f}", ""))
        out += [
            f"## 1. Ingest of {Path(ing['media']).name} ({ing['audio_seconds']:.1f} s of real speech)",
            "",
            f"Default settings (Whisper base int8 on CPU, beam 5, VAD, word timestamps, semantic "
            f"segmentation, all-MiniLM-L6-v2, FAISS flat), fresh index each run, models loaded "
            f"({ing['model_load_s']:.1f} s) and warmed up on another file first, not counted. "
            f"Median of {ing['repetitions']} run(s). Transcript: {c['segments']} Whisper segments, "
            f"{c['sentences']} sentences, {c['words']} words, {c['passages']} passages, "
            f"languages {c['languages']}.",
            "",
            table(["step", "seconds", "RTF", "share"], rows),
            "",
        ]
        if ing.get("vad_s") is not None:
            out += [f"Of transcription, the Silero VAD pass alone takes {ing['vad_s']:.2f} s (timed separately).", ""]
        dc = ing["direct_counts"]
        out += [
            "faster-whisper called directly on the same file (same packaged model, int8, beam 5, "
            "`vad_filter=True`, `word_timestamps=True`, all segments consumed; audio decoding included):",
            "",
            table(
                ["", "median s", "RTF", "words", "ours / direct (ingest)", "ours / direct (transcription step)"],
                [
                    ("`WhisperModel.transcribe`", f"{ing['direct_plain_s']['median']:.2f}",
                     f"{ing['direct_plain_s']['median'] / ing['audio_seconds']:.4f}", dc["plain"]["words"],
                     f"{ing['ratio_vs_plain']:.2f}", f"{ing['transcription_ratio_vs_plain']:.2f}"),
                    ("`BatchedInferencePipeline`, batch 8", f"{ing['direct_batched_s']['median']:.2f}",
                     f"{ing['direct_batched_s']['median'] / ing['audio_seconds']:.4f}", dc["batched"]["words"],
                     f"{ing['ratio_vs_batched']:.2f}", f"{ing['transcription_ratio_vs_batched']:.2f}"),
                ],
            ),
            "",
            "All runs (s): ingest " + ", ".join(f"{x:.2f}" for x in ing["ingest_runs_s"])
            + "; plain " + ", ".join(f"{x:.2f}" for x in ing["direct_plain_runs_s"])
            + "; batched " + ", ".join(f"{x:.2f}" for x in ing["direct_batched_runs_s"]) + ". "
            + "Other processes' cores during each: " + "; ".join(
                f"{k} " + ", ".join("n/a" if v is None else f"{v:.2f}" for v in vals)
                for k, vals in ing["others_cores_per_run"].items()) + "."
            + (f" {len(ing['discarded_runs'])} repetition(s) were discarded and rerun because other "
               f"processes used the CPU during them (kept in speed.json)." if ing.get("discarded_runs") else ""),
            "",
        ]  # fmt: skip
    ask = results.get("ask")
    if ask:
        tiled = (
            f" In this run {ask['embedded_unique']:,} passages were embedded and tiled with small "
            f"Gaussian noise (sigma 0.01, renormalized) to {ask['passages']:,}."
            if ask["tiled_with_noise"]
            else f" All {ask['passages']:,} passages are distinct and were embedded with "
            f"{ask.get('embedder', 'all-MiniLM-L6-v2')} ({ask['embed_s']:.0f} s)."
        )
        rows = [
            (name, f"{s['median']:.2f}", f"{s['p95']:.2f}", f"{s['max']:.2f}")
            for name, s in [
                ("`MediaQA.ask` end to end", ask["ask_ms"]),
                (f"query embedding ({ask.get('embedder', 'all-MiniLM-L6-v2')})", ask["query_embedding_ms"]),
                (f"FAISS search ({ask['index_type']}, k={ask['k']})", ask["faiss_search_ms"]),
                ("extractive generator", ask["generator_ms"]),
            ]
        ]
        out += [
            f"## 2. `ask` latency over {ask['passages']:,} passages",
            "",
            f"Passages: XQuAD paragraphs and 1-3 sentence windows of them (English first, then "
            f"es/de/ru/zh), mean {ask['mean_passage_chars']:.0f} characters, in {ask['sources']:,} "
            f"sources of a FaissStore.{tiled} `MediaQA(store=..., embedder=...)` with the extractive "
            f"generator; {ask['questions']} English XQuAD questions after 10 warm-up questions; "
            f"{ask['grounded']} of them got a grounded answer. The breakdown times the same three "
            f"calls `ask` makes, separately, over the same questions. torch threads: "
            f"{ask['torch_threads']}; other processes used {ask['asks_others_cores'] or 0:.2f} cores "
            f"during the 100 asks"
            + (f"; {len(ask['discarded_runs'])} batch(es) of asks were discarded and rerun because "
               f"other processes used the CPU." if ask.get("discarded_runs") else "."),
            "",
            table(["", "p50 ms", "p95 ms", "max ms"], rows),
            "",
        ]
    mem = results.get("memory")
    if mem:
        phases = [
            (p["phase"], f"{p['t_s']:.1f}", f"{p['rss_mb']:.0f}", f"{p['hwm_mb']:.0f}") for p in mem["phases"]
        ]
        out += [
            f"## 3. Peak memory, ingest of a {mem['minutes']:g}-minute file",
            "",
            f"{mem['audio_seconds'] / 60:.0f} minutes of real speech ({len(mem['sources'])} clips of "
            f"/work/shared/data/speech/long looped with 2 s gaps, Opus {mem['file_mb']:.1f} MB), "
            f"ingested with default `MediaQA` settings in a subprocess (models loaded there, so "
            f"they count). Peak RSS = the subprocess's VmHWM: **{mem['peak_rss_mb']:.0f} MB** "
            f"(getrusage RUSAGE_CHILDREN: {mem['ru_maxrss_children_mb']:.0f} MB; polled: "
            f"{mem['peak_rss_polled_mb']:.0f} MB). Ingest {mem['ingest_s']:.0f} s, RTF "
            f"{mem['rtf']:.3f}, {mem['chunks']} passages.",
            "",
            table(["point in the subprocess", "t s", "RSS MB", "peak so far MB"], phases),
            "",
        ]
        if meta["quick"]:
            out += ["(Quick mode: 10 minutes instead of 60.)", ""]
    bk = results.get("backends")
    if bk:
        names = list(bk["backends"])
        rows = []
        for step in [*bk["backends"][names[0]]["steps_s"], "total", "RTF", "model load"]:
            cells = []
            for name in names:
                b = bk["backends"][name]
                value = {"total": b["total_s"], "RTF": b["rtf"], "model load": b["model_load_s"]}.get(step, b["steps_s"].get(step))
                cells.append(f"{value:.3f}" if step == "RTF" else f"{value:.2f}")
            rows.append((step, *cells))
        rows.append(("words / passages", *[f"{bk['backends'][n]['counts']['words']} / {bk['backends'][n]['counts']['passages']}" for n in names]))
        rows.append(("other processes' cores", *[
            "n/a" if bk["backends"][n]["cpu"]["others_cores"] is None else f"{bk['backends'][n]['cpu']['others_cores']:.2f}"
            for n in names]))
        out += [
            f"## 4. Transcription backends side by side ({Path(bk['media']).name}, {bk['audio_seconds']:.0f} s)",
            "",
            "The same file through the default pipeline with each transcription backend, step by step "
            "(seconds, median of the repetitions; models loaded and warmed up first). 'transcription' "
            "is VAD + ASR for faster-whisper and the chunked pipeline for transformers.",
            "",
            table(["step", *names], rows),
            "",
        ]  # fmt: skip
    sc = results.get("scaling")
    if sc:
        k = sc["k"]
        out += [
            "## 5. Search latency against index size",
            "",
            f"One query at a time on one thread (as `FaissStore.search` runs), k = {sc['k']}, "
            f"{sc['queries']} queries, {sc['dimension']}-d synthetic unit vectors clustered around 1,000 "
            "topic centres (queries are perturbed copies of stored vectors). Recall: share of the "
            f"exact top-k that the index returns. HNSW is built up to {sc.get('hnsw_max', 0):,} vectors "
            "(its build time grows fastest); IVF-Flat is the approximate index beyond.",
            "",
            table(["vectors", "index", "build s", "p50 ms", "p95 ms", f"recall@{sc['k']}"],
                  [(f"{r['vectors']:,}", r["index"], f"{r['build_s']:.1f}", f"{r['p50_ms']:.3f}",
                    f"{r['p95_ms']:.3f}", f"{r[f'recall@{k}']:.3f}") for r in sc["rows"]]),
            "",
        ]  # fmt: skip
    return "\n".join(out)
