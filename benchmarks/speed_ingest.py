"""Ingest speed and memory: how long each stage of mediarag's pipeline takes on a real file, with
each transcription backend, against faster-whisper called directly, and the peak memory of a long
ingest.

The breakdown runs the public pipeline itself: `mediarag.pipeline.Pipeline.run` over ``qa``'s own
stages, each wrapped in a `TimedStage`, between the batch driver's planning (`plan_jobs`, with
the file's hash) and its commit (`commit_file`), as `MediaQA.ingest` does them.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from core.machine import CpuMonitor, Quiet, rss_mb
from core.report import log
from core.stats import median, summarize

SAMPLE_RATE = 16_000
HERE = Path(__file__).resolve().parent
#: The report's name for the time of each core stage; registered stages keep their own names.
STAGE_STEPS = {
    "decode": "decode",
    "transcribe": "transcription",
    "sentences": "sentences",
    "passages": "segmentation",
    "embed": "embedding",
}


@contextmanager
def stopwatch(into: dict[str, float], name: str) -> Iterator[None]:
    """Add the seconds the block takes to ``into[name]``."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[name] = into.get(name, 0.0) + time.perf_counter() - t0


class TimedStage:
    """A pipeline stage that adds the seconds each of its runs takes to ``seconds`` (under the
    report's name for it, `STAGE_STEPS`); otherwise the stage itself."""

    def __init__(self, stage: Any, seconds: dict[str, float]) -> None:
        self.stage = stage
        self.name = stage.name
        self.seconds = seconds

    def warm_up(self) -> None:
        self.stage.warm_up()

    def run(self, item: Any) -> None:
        with stopwatch(self.seconds, STAGE_STEPS.get(self.name, self.name)):
            self.stage.run(item)


def ingest_steps(qa: Any, path: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """One file through ``qa``'s pipeline, step by step: ``hash`` (planning the job against the
    index and hashing the file), each stage of ``qa.pipeline`` (run by `Pipeline.run`, each
    timed by a `TimedStage`) and ``indexing`` (`commit_file`).

    Returns the seconds of each step, in the order they ran, and a few counts (sentences,
    passages)."""
    from mediarag.media import file_sha256
    from mediarag.pipeline import MediaFile, Pipeline, commit_file, plan_jobs

    t: dict[str, float] = {}
    with stopwatch(t, "hash"):
        jobs, failures = plan_jobs([path], qa.store)
        if failures or len(jobs) != 1:
            raise RuntimeError(f"cannot ingest {path}: {failures or jobs}")
        job = jobs[0]
        sha = file_sha256(path)
    pipeline = qa.pipeline
    timed = Pipeline([TimedStage(stage, t) for stage in pipeline.stages], pipeline.optional)
    item = MediaFile(path=path, source=job.source, sha256=sha, language=qa.language(), task="transcribe")
    timed.run(item)
    with stopwatch(t, "indexing"):
        commit_file(qa.store, item)
    transcript = item.transcript
    counts = {
        "duration_s": item.duration,
        "segments": len(transcript.segments),
        "sentences": len(item.sentences),
        "passages": len(item.passages),
        "words": sum(len(s.text.split()) for s in item.sentences),
        "languages": transcript.languages if transcript.segments else [],
    }
    return t, counts


def step_medians(runs: Sequence[dict[str, float]]) -> dict[str, float]:
    """The median seconds of each step over ``runs``, in the order the steps ran."""
    return {k: median([r[k] for r in runs]) for k in runs[0]}


def vad_seconds(transcriber: Any, path: Path) -> float | None:
    """Seconds the default transcriber's voice activity detection takes on ``path``, with its
    own settings (informational; None for another transcriber, or with VAD off)."""
    from mediarag.media import decode_audio
    from mediarag.transcribe import FasterWhisperTranscriber
    from mediarag.transcribe.faster_whisper import VAD_BLOCK_SECONDS, WINDOW_SECONDS
    from mediarag.transcribe.vad import VadOptions, pack_regions, speech_regions

    if not isinstance(transcriber, FasterWhisperTranscriber) or not transcriber.vad:
        return None
    audio = decode_audio(path)
    t0 = time.perf_counter()
    regions = speech_regions(audio, VadOptions(max_region_seconds=WINDOW_SECONDS, block_seconds=VAD_BLOCK_SECONDS))
    pack_regions(regions, WINDOW_SECONDS)
    return time.perf_counter() - t0


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float | None]:
    """``fn()``'s result, its wall seconds, and the cores other processes used meanwhile."""
    t0 = time.perf_counter()
    with CpuMonitor() as mon:
        result = fn()
    return result, time.perf_counter() - t0, mon.others_cores


def faster_whisper_direct(model_name: str = "base") -> tuple[Callable[[Path], dict], Callable[[Path], dict]]:
    """faster-whisper called directly on a file, the baseline of the ingest timing: plain
    ``WhisperModel.transcribe`` and ``BatchedInferencePipeline`` (batch 8), both with the packaged
    model, int8, beam 5, VAD and word timestamps, every segment consumed."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from mediarag.weights import resolve_whisper

    model = WhisperModel(resolve_whisper(model_name), device="cpu", compute_type="int8")
    batched = BatchedInferencePipeline(model)
    options = {"beam_size": 5, "vad_filter": True, "word_timestamps": True}

    def consume(result: tuple[Any, Any]) -> dict[str, Any]:
        segments, info = result
        segs = list(segments)
        return {"segments": len(segs), "words": sum(len(s.text.split()) for s in segs), "language": info.language}

    def plain(path: Path) -> dict[str, Any]:
        return consume(model.transcribe(str(path), **options))

    def in_batches(path: Path) -> dict[str, Any]:
        return consume(batched.transcribe(str(path), batch_size=8, **options))

    return plain, in_batches


def bench_ingest(media: Path, warm_media: Path, reps: int, tmp: Path, quiet: Quiet | None = None) -> dict[str, Any]:
    """`MediaQA.ingest` of ``media`` end to end, the same step by step (`ingest_steps`), and
    faster-whisper called directly, ``reps`` times each, models loaded and warmed up first."""
    from mediarag import MediaQA
    from mediarag.media import decode_audio

    quiet = quiet or Quiet()
    duration = decode_audio(media).duration
    log(f"[1/3] ingest: {media.name} ({duration:.1f} s), {reps} repetition(s) of each timing")

    qa = MediaQA(tmp / "warm-index")
    t0 = time.perf_counter()
    qa.warm_up()
    load_s = time.perf_counter() - t0
    log(f"[1/3] models loaded in {load_s:.1f} s; warm-up ingest of {warm_media.name} (not counted)")
    warm = qa.ingest(warm_media)
    if not warm.ok:
        raise RuntimeError(f"warm-up ingest failed: {warm.failed}")

    def fresh(name: str) -> Any:
        # A new index each time (an unchanged file would be skipped), the same warmed models.
        return MediaQA(tmp / name, transcriber=qa.transcriber, segmenter=qa.segmenter, embedder=qa.embedder)

    direct_plain, direct_batched = faster_whisper_direct()
    log("[1/3] warm-up of direct faster-whisper (not counted)")
    direct_plain(warm_media)
    direct_batched(warm_media)

    e2e: list[float] = []
    steps: list[dict[str, float]] = []
    plain: list[float] = []
    batch: list[float] = []
    vad: list[float] = []
    counts: dict[str, Any] = {}
    direct_counts: dict[str, Any] = {}
    others: dict[str, list[float | None]] = {}
    rep = 0
    while rep < reps:
        tag = f"rep {rep + 1}/{reps}"
        quiet.before()
        run_others: dict[str, float | None] = {}
        run = fresh(f"e2e-{rep}-{len(quiet.discarded)}")
        report, e2e_s, run_others["ingest"] = timed(lambda: run.ingest(media))
        if not report.ok or not report.ingested:
            raise RuntimeError(f"ingest failed: {report.failed}")
        log(f"[1/3] {tag}: MediaQA.ingest end to end {e2e_s:.2f} s (RTF {e2e_s / duration:.3f})")

        step_qa = fresh(f"steps-{rep}-{len(quiet.discarded)}")
        (step_times, counts), _, run_others["steps"] = timed(lambda: ingest_steps(step_qa, media))
        log(f"[1/3] {tag}: step by step {sum(step_times.values()):.2f} s "
            + ", ".join(f"{k} {v:.2f}" for k, v in step_times.items()))  # fmt: skip

        v = vad_seconds(qa.transcriber, media)
        direct_counts["plain"], plain_s, run_others["plain"] = timed(lambda: direct_plain(media))
        log(f"[1/3] {tag}: faster-whisper WhisperModel.transcribe {plain_s:.2f} s")
        direct_counts["batched"], batch_s, run_others["batched"] = timed(lambda: direct_batched(media))
        log(f"[1/3] {tag}: faster-whisper BatchedInferencePipeline(batch_size=8) {batch_s:.2f} s")

        record = {"ingest_s": e2e_s, "steps_s": step_times, "plain_s": plain_s, "batched_s": batch_s,
                  "others_cores": run_others}  # fmt: skip
        if not quiet.accept(f"[1/3] {tag}", run_others.values(), record):
            continue
        e2e.append(e2e_s)
        steps.append(step_times)
        plain.append(plain_s)
        batch.append(batch_s)
        if v is not None:
            vad.append(v)
        for key, value in run_others.items():
            others.setdefault(key, []).append(value)
        rep += 1

    step_median = step_medians(steps)
    e2e_med = median(e2e)
    out = {
        "media": str(media),
        "audio_seconds": duration,
        "repetitions": reps,
        "model_load_s": load_s,
        "ingest_s": summarize(e2e),
        "ingest_runs_s": e2e,
        "rtf": e2e_med / duration,
        "steps_s": step_median,
        "steps_total_s": sum(step_median.values()),
        "steps_runs_s": steps,
        "vad_s": median(vad) if vad else None,
        "counts": counts,
        "direct_plain_s": summarize(plain),
        "direct_plain_runs_s": plain,
        "direct_batched_s": summarize(batch),
        "direct_batched_runs_s": batch,
        "direct_counts": direct_counts,
        "others_cores_per_run": others,
        "discarded_runs": [d for d in quiet.discarded if d["what"].startswith("[1/3]")],
        "ratio_vs_plain": e2e_med / median(plain),
        "ratio_vs_batched": e2e_med / median(batch),
        "transcription_ratio_vs_plain": step_median["transcription"] / median(plain),
        "transcription_ratio_vs_batched": step_median["transcription"] / median(batch),
    }
    return out


#: The transformers pipeline configured as the AWS sample's Whisper endpoint.
AWS_PIPELINE = {"chunk_length_s": 20.0, "stride_length_s": 5.0}


def bench_backends(media: Path, warm_media: Path, reps: int, tmp: Path) -> dict[str, Any]:
    """Ingest step breakdown of the same file for each transcription backend, in one run: the
    default faster-whisper transcriber and ``TransformersTranscriber`` with the AWS sample's
    ``chunk_length_s=20, stride_length_s=5``. Everything after transcription is the same
    default pipeline, so only the transcription step should differ."""
    from mediarag import MediaQA, Settings

    out: dict[str, Any] = {"media": str(media), "backends": {}}
    configs = {
        "faster-whisper": Settings(),
        "transformers (AWS sample: chunk_length_s=20, stride_length_s=5)": Settings(
            transcriber="transformers", chunk_length_s=AWS_PIPELINE["chunk_length_s"],
            stride_length_s=AWS_PIPELINE["stride_length_s"]),
    }  # fmt: skip
    shared: MediaQA | None = None
    for name, settings in configs.items():
        qa = MediaQA(tmp / "backends-warm", settings=settings,
                     segmenter=shared.segmenter if shared else None, embedder=shared.embedder if shared else None)
        t0 = time.perf_counter()
        qa.warm_up()
        load_s = time.perf_counter() - t0
        ingest_steps(MediaQA(tmp / f"backends-warm-{len(out['backends'])}", transcriber=qa.transcriber,
                             segmenter=qa.segmenter, embedder=qa.embedder), warm_media)  # fmt: skip
        shared = shared or qa
        runs: list[dict[str, float]] = []
        counts: dict[str, Any] = {}
        with CpuMonitor() as mon:
            for rep in range(reps):
                fresh = MediaQA(tmp / f"backends-{len(out['backends'])}-{rep}", transcriber=qa.transcriber,
                                segmenter=qa.segmenter, embedder=qa.embedder)
                steps, counts = ingest_steps(fresh, media)
                runs.append(steps)
                log(f"[4] {name} rep {rep + 1}/{reps}: " + ", ".join(f"{k} {v:.2f}" for k, v in steps.items()))
        med = step_medians(runs)
        total = sum(med.values())
        out["backends"][name] = {
            "model_load_s": load_s, "steps_s": med, "total_s": total, "rtf": total / counts["duration_s"],
            "runs_s": runs, "counts": counts, "cpu": mon.as_dict(),
        }  # fmt: skip
        out["audio_seconds"] = counts["duration_s"]
        gc.collect()
    return out


def child_ingest(media: str, index: str) -> None:
    """Run in the subprocess: a full ``MediaQA.ingest`` of ``media``; prints a JSON line."""
    from mediarag import MediaQA

    phases: list[dict[str, Any]] = []
    t_start = time.perf_counter()

    def mark(name: str) -> None:
        row = {"phase": name, "t_s": round(time.perf_counter() - t_start, 2),
               "rss_mb": rss_mb(), "hwm_mb": rss_mb(field="VmHWM")}  # fmt: skip
        phases.append(row)
        print(f"    child: {name}: t={row['t_s']} s RSS {row['rss_mb']:.0f} MB, peak {row['hwm_mb']:.0f} MB",
              file=sys.stderr, flush=True)  # fmt: skip

    def watch(obj: Any, method: str, name: str) -> None:
        # Wraps one bound method on this instance only, to mark when each step starts and ends.
        inner = getattr(obj, method)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            mark(f"{name} start")
            try:
                return inner(*args, **kwargs)
            finally:
                mark(f"{name} end")

        setattr(obj, method, wrapper)

    mark("start")
    qa = MediaQA(index)
    qa.warm_up()
    mark("models loaded")
    watch(qa.transcriber, "transcribe", "transcription")
    watch(qa.segmenter, "split", "segmentation")
    watch(qa.store, "add_source", "add_source")
    watch(qa.store, "commit", "commit")
    t0 = time.perf_counter()
    report = qa.ingest(media)
    ingest_s = time.perf_counter() - t0
    mark("done")
    info = report.ingested[0] if report.ingested else None
    print(json.dumps({
        "ok": report.ok and info is not None,
        "failed": [f.model_dump() for f in report.failed],
        "ingest_s": ingest_s,
        "duration_s": info.duration if info else None,
        "chunks": info.chunks if info else None,
        "languages": info.languages if info else None,
        "vmhwm_mb": rss_mb(field="VmHWM"),
        "phases": phases,
    }))  # fmt: skip


def bench_memory(sources: Sequence[Path], minutes: float, tmp: Path) -> dict[str, Any]:
    media = tmp / f"speech_{int(minutes)}min.ogg"
    log(f"[3/3] memory: building a {minutes:g}-minute file from {len(sources)} real-speech clips")
    t0 = time.perf_counter()
    seconds = build_long_audio(sources, minutes * 60.0, media)
    build_s = time.perf_counter() - t0
    log(f"[3/3] wrote {media.name} ({seconds:.0f} s, {media.stat().st_size / 1e6:.1f} MB) in {build_s:.1f} s; "
        "ingesting it in a subprocess")  # fmt: skip
    cmd = [sys.executable, str(HERE / "speed.py"), "--child-ingest", str(media),
           "--child-index", str(tmp / "memory-index")]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak_seen = 0.0
    last_log = t0
    while proc.poll() is None:
        rss = rss_mb(proc.pid)
        if rss:
            peak_seen = max(peak_seen, rss)
        now = time.perf_counter()
        if now - last_log >= 30:
            log(f"[3/3] {now - t0:.0f} s elapsed, child RSS {rss or 0:.0f} MB (peak seen {peak_seen:.0f} MB)")
            last_log = now
        time.sleep(0.25)
    stdout = proc.stdout.read() if proc.stdout else ""
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"memory subprocess failed with exit status {proc.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    children_max_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    peak = result["vmhwm_mb"] or children_max_mb
    log(f"[3/3] peak RSS {peak:.0f} MB; ingest {result['ingest_s']:.0f} s "
        f"(RTF {result['ingest_s'] / seconds:.3f})")  # fmt: skip
    return {
        "minutes": minutes,
        "audio_seconds": seconds,
        "file_mb": media.stat().st_size / 1e6,
        "build_s": build_s,
        "sources": [str(p) for p in sources],
        "subprocess_wall_s": wall,
        "ingest_s": result["ingest_s"],
        "rtf": result["ingest_s"] / seconds,
        "chunks": result["chunks"],
        "languages": result["languages"],
        "ok": result["ok"],
        "failed": result["failed"],
        "peak_rss_mb": peak,
        "vmhwm_mb": result["vmhwm_mb"],
        "ru_maxrss_children_mb": children_max_mb,
        "peak_rss_polled_mb": peak_seen,
        "phases": result["phases"],
    }


# Long audio for the memory run --------------------------------------------------------------


def concat_clips(
    clips: Sequence[np.ndarray],
    total_seconds: float,
    *,
    gap_seconds: float = 1.0,
    lead_seconds: float = 0.5,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """``lead_seconds`` of silence, then ``clips`` in order (looped as often as needed), each
    followed by ``gap_seconds`` of silence, cut to exactly ``total_seconds`` (float32 mono)."""
    total = int(round(total_seconds * sample_rate))
    if total <= 0:
        raise ValueError("total_seconds must be positive")
    usable = [np.asarray(c, dtype=np.float32).reshape(-1) for c in clips]
    usable = [c for c in usable if c.size]
    if not usable:
        raise ValueError("no non-empty clips to concatenate")
    out = np.zeros(total, dtype=np.float32)
    gap = int(round(gap_seconds * sample_rate))
    pos = min(int(round(lead_seconds * sample_rate)), total)
    i = 0
    while pos < total:
        clip = usable[i % len(usable)]
        n = min(clip.size, total - pos)
        out[pos : pos + n] = clip[:n]
        pos += n + gap
        i += 1
    return out


def write_audio(path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write mono float samples with PyAV: ``.wav`` as 16-bit PCM, ``.ogg``/``.opus`` as Opus."""
    import av

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".wav":
        codec, options, rate = "pcm_s16le", {}, sample_rate
    elif suffix in (".ogg", ".opus"):
        codec, options, rate = "libopus", {"b": "32000"}, sample_rate
    else:
        raise ValueError(f"write_audio writes .wav, .ogg or .opus, not {suffix!r}")
    pcm = (np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0) * 32767.0).astype(
        np.int16
    )
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.layout = "mono"
        stream.format = "s16"
        step = stream.codec_context.frame_size or 4096
        pts = 0
        for start in range(0, len(pcm), step):
            block = pcm[start : start + step]
            if codec == "libopus" and len(block) < step:
                block = np.concatenate([block, np.zeros(step - len(block), dtype=np.int16)])
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            pts += len(block)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def build_long_audio(
    sources: Sequence[Path], total_seconds: float, out_path: Path, *, gap_seconds: float = 2.0
) -> float:
    """Decode ``sources`` (real speech), loop them with gaps to ``total_seconds``, write ``out_path``.

    Returns the duration written, in seconds."""
    from mediarag.media import decode_audio

    clips = [decode_audio(p).samples for p in sources]
    samples = concat_clips(clips, total_seconds, gap_seconds=gap_seconds)
    write_audio(out_path, samples)
    return len(samples) / SAMPLE_RATE
