"""Peak memory of one long file (issue 15: "Peak memory of a 3-hour file on CPU <= 2 GB").

1. Builds a long audio file from the real speech of ``../shared/data/speech`` (its clips of the
   chosen languages, English by default, laid end to end with a short pause after each, looped
   as often as needed), encoded once as Opus and cached under ``benchmarks/.cache/long_file/``.
2. Ingests it through the public path, ``MediaQA(index, settings=...).ingest([file])`` with the
   chosen Whisper model and pipeline stages, in a child process (the models are loaded there, so
   they count, each when first used, as in any ingest), and measures the child's peak
   resident memory: its VmHWM, reset at every step (``/proc/self/clear_refs``) so that each
   step's own peak is known, the parent polling the child's VmRSS every 0.2 s as a check; plus
   wall time and real-time factor.
3. Writes ``results/long-file.md`` and ``results/long-file.json`` (``--out``, ``--stem``).

Run with several ``--hours`` to see how memory grows with length, and ``--stages`` to see what a
stage costs (a comma list of stage sets: ``default``, the stages on by default; ``none``, the
core stages only; or stages joined by ``+``, such as ``speakers``)::

    python benchmarks/long_file.py --hours 0.5,3 --model tiny.en --stages default,none
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from core.machine import CpuMonitor, rss_mb  # noqa: E402
from core.report import command_line, fixed, header, log, run_info, table, write_results  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

CACHE = HERE / ".cache" / "long_file"
DEFAULT_DATA = Path(os.environ.get("MEDIARAG_BENCH_DATA", HERE.parent.parent / "shared" / "data"))
#: The issue's target, in MiB.
TARGET_MB = 2048.0
SAMPLE_RATE = 16_000
#: Silence after each clip, and before the first one.
GAP_SECONDS = 1.0
LEAD_SECONDS = 0.5
#: How often the parent reads the child's resident memory.
POLL_SECONDS = 0.2
PACKAGES = ["mediarag", "faster-whisper", "ctranslate2", "onnxruntime", "torch", "numpy", "av"]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--hours", default="3", help="comma list of file lengths in hours (default 3)")
    p.add_argument("--model", default="tiny.en", help="Whisper model (default tiny.en: packaged, fast)")
    p.add_argument("--stages", default="default",
                   help="comma list of stage sets, each 'default', 'none' or stages joined by '+' (e.g. speakers+screen)")  # fmt: skip
    p.add_argument("--languages", default="en", help="languages of the clips used (default en, for tiny.en)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory (holds speech/)")
    p.add_argument("--out", type=Path, default=HERE / "results", help="where the report goes")
    p.add_argument("--stem", default="long-file", help="report file names: <stem>.md and <stem>.json")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON record here")
    p.add_argument("--index", type=Path, default=None,
                   help="scratch directory for the indexes (default: a temporary one)")  # fmt: skip
    # The child process's own arguments (not for direct use).
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--child-index", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# The long file ----------------------------------------------------------------------------


def speech_clips(data: Path, languages: Sequence[str]) -> list[Path]:
    """The clips of ``data/speech`` (its manifest) in ``languages``, in manifest order."""
    speech = data / "speech"
    manifest = speech / "manifest.jsonl"
    if not manifest.is_file():
        raise SystemExit(f"no speech manifest at {manifest} (set --data or MEDIARAG_BENCH_DATA)")
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    clips = [speech / r["file"] for r in rows if r.get("language") in languages]
    if not clips:
        raise SystemExit(f"no clips in {manifest} for languages {list(languages)}")
    return clips


def long_file(clips: Sequence[Path], seconds: float) -> Path:
    """The cached Opus file of ``clips`` looped to ``seconds`` (built on first use)."""
    import hashlib

    recipe = json.dumps([[str(c) for c in clips], seconds, GAP_SECONDS, LEAD_SECONDS])
    key = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    path = CACHE / f"speech_{seconds / 3600:g}h_{key}.ogg"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    log(f"building {path.name}: {seconds / 3600:g} h from {len(clips)} clips")
    t0 = time.perf_counter()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.ogg")
    write_opus(tmp, looped(clips, seconds))
    os.replace(tmp, path)
    log(f"wrote {path.name} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s")
    return path


def looped(clips: Sequence[Path], seconds: float) -> Iterator[Any]:
    """Blocks of float32 samples: ``LEAD_SECONDS`` of silence, then the clips in order, each
    followed by ``GAP_SECONDS`` of silence, looped, cut at exactly ``seconds``."""
    import numpy as np

    from mediarag.media import decode_audio

    decoded = [decode_audio(c).samples for c in clips]
    gap = np.zeros(int(GAP_SECONDS * SAMPLE_RATE), dtype=np.float32)
    left = int(round(seconds * SAMPLE_RATE))
    blocks = [np.zeros(int(LEAD_SECONDS * SAMPLE_RATE), dtype=np.float32)]
    i = 0
    while left > 0:
        for block in blocks:
            block = block[:left]
            left -= len(block)
            if len(block):
                yield block
        blocks = [decoded[i % len(decoded)], gap]
        i += 1


def write_opus(path: Path, blocks: Iterator[Any]) -> None:
    """Mono 16 kHz blocks written as Opus (32 kb/s) in an Ogg file with PyAV, as they come."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="ogg") as container:
        stream = container.add_stream("libopus", rate=SAMPLE_RATE, options={"b": "32000"})
        stream.layout = "mono"
        stream.format = "s16"
        step = stream.codec_context.frame_size or 960
        pending = np.zeros(0, dtype=np.int16)
        pts = 0

        def encode(frame_samples: np.ndarray | None) -> None:
            nonlocal pts
            frame = None
            if frame_samples is not None:
                frame = av.AudioFrame.from_ndarray(frame_samples.reshape(1, -1), format="s16", layout="mono")
                frame.sample_rate, frame.pts = SAMPLE_RATE, pts
                pts += len(frame_samples)
            for packet in stream.encode(frame):
                container.mux(packet)

        for block in blocks:
            pcm = (np.clip(block, -1.0, 1.0) * 32767.0).astype(np.int16)
            pending = np.concatenate([pending, pcm])
            whole = len(pending) - len(pending) % step
            for start in range(0, whole, step):
                encode(pending[start : start + step])
            pending = pending[whole:]
        if len(pending):
            encode(np.concatenate([pending, np.zeros(step - len(pending), dtype=np.int16)]))
        encode(None)


# The child: one ingest, its memory step by step --------------------------------------------


class StepMemory:
    """Each step's own peak resident memory: VmHWM read at the step's end, after it was reset to
    the current RSS at its start (``/proc/self/clear_refs``). Steps follow each other, so the
    largest of them is the process's peak since the first step began."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self._t0 = time.perf_counter()
        self._name: str | None = None
        self._start = 0.0
        self._rss0: float | None = None

    def begin(self, name: str) -> None:
        self.end()
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass  # then each step's peak is the process's peak so far
        self._name, self._start, self._rss0 = name, time.perf_counter(), rss_mb()

    @staticmethod
    def shown(row: dict[str, Any]) -> bool:
        """Whether a step is worth a line: a stage, or a gap between stages that took time."""
        return not row["step"].startswith("after ") or row["seconds"] >= 0.5

    def end(self) -> None:
        if self._name is None:
            return
        row = {
            "step": self._name,
            "start_s": round(self._start - self._t0, 2),
            "seconds": round(time.perf_counter() - self._start, 2),
            "rss_start_mb": self._rss0,
            "rss_end_mb": rss_mb(),
            "peak_mb": rss_mb(field="VmHWM"),
        }
        self.steps.append(row)
        if not self.shown(row):
            self._name = None
            return
        print(f"    child: {row['step']}: {row['seconds']} s, RSS {row['rss_start_mb']:.0f} -> {row['rss_end_mb']:.0f} MB, "
              f"peak {row['peak_mb']:.0f} MB", file=sys.stderr, flush=True)  # fmt: skip
        self._name = None


class MeasuredStage:
    """A pipeline stage whose run is one step of `StepMemory`; otherwise the stage itself."""

    def __init__(self, stage: Any, memory: StepMemory) -> None:
        self.stage, self.name, self.memory = stage, stage.name, memory

    def warm_up(self) -> None:
        self.stage.warm_up()

    def run(self, item: Any) -> None:
        self.memory.begin(self.name)
        try:
            self.stage.run(item)
        finally:
            self.memory.begin(f"after {self.name}")


def stage_names(spec: str) -> list[str] | None:
    """``Settings.stages`` for one ``--stages`` entry: None for 'default', [] for 'none'."""
    if spec == "default":
        return None
    if spec == "none":
        return []
    return [s for s in spec.split("+") if s]


def child(media: Path, index: Path, model: str, stages: str) -> None:
    """In the child process: ``MediaQA.ingest`` of ``media``; prints one JSON line."""
    memory = StepMemory()
    memory.begin("import")
    from mediarag import MediaQA, Settings

    settings = Settings(transcription={"model": model}, stages=stage_names(stages))
    qa = MediaQA(index, settings=settings)  # models load on first use, as in any ingest
    pipeline = qa.pipeline
    names = pipeline.names
    pipeline.stages = [MeasuredStage(s, memory) for s in pipeline.stages]
    memory.begin("planning")
    t0 = time.perf_counter()
    report = qa.ingest([media])
    ingest_s = time.perf_counter() - t0
    memory.end()
    info = report.ingested[0] if report.ingested else None
    print(json.dumps({
        "ok": report.ok and info is not None,
        "failed": [f.model_dump() for f in report.failed],
        "stages": names,
        "ingest_s": ingest_s,
        "duration_s": info.duration if info else None,
        "chunks": info.chunks if info else None,
        "warnings": list(getattr(report, "warnings", []) or []),
        "steps": memory.steps,
        "peak_mb": max(s["peak_mb"] or 0.0 for s in memory.steps),
    }))  # fmt: skip


# The parent: one child per (hours, stages), polled ------------------------------------------


def measure(media: Path, seconds: float, model: str, stages: str, index: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(media), "--child-index", str(index),
           "--model", model, "--stages", stages]  # fmt: skip
    t0 = time.perf_counter()
    polled = 0.0
    with CpuMonitor() as mon:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.extend(proc.stdout or []), daemon=True)
        reader.start()
        last = t0
        while proc.poll() is None:
            polled = max(polled, rss_mb(proc.pid) or 0.0)
            if time.perf_counter() - last >= 60:
                last = time.perf_counter()
                log(f"  {last - t0:.0f} s, child RSS {rss_mb(proc.pid) or 0:.0f} MB (most seen {polled:.0f} MB)")
            time.sleep(POLL_SECONDS)
        reader.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"the ingest child failed with exit status {proc.returncode}: {' '.join(cmd)}")
    result = json.loads("".join(out).strip().splitlines()[-1])
    result.update(
        hours=seconds / 3600, audio_s=seconds, model=model, stages_option=stages, file=str(media),
        file_mb=media.stat().st_size / 1e6, child_wall_s=wall, rtf=result["ingest_s"] / seconds,
        polled_peak_mb=polled, cpu=mon.as_dict(), meets_target=result["peak_mb"] <= TARGET_MB,
    )  # fmt: skip
    log(f"  peak {result['peak_mb']:.0f} MB (polled {polled:.0f}), ingest {result['ingest_s']:.0f} s, "
        f"RTF {result['rtf']:.3f}, {result['chunks']} passages")  # fmt: skip
    return result


def report(runs: list[dict[str, Any]], info: dict[str, Any], clips: Sequence[Path], total_s: float) -> str:
    lines = header("Peak memory of one long file", info, total_s=total_s)
    lines += [
        f"Target (issue 15): peak resident memory of a 3-hour file on CPU <= {TARGET_MB:.0f} MB.",
        "",
        f"File: {len(clips)} real-speech clips of `speech/` ({', '.join(sorted({c.parent.name for c in clips}))}) "
        f"laid end to end, {GAP_SECONDS:g} s of silence after each, looped to the length; Opus 32 kb/s in Ogg. "
        "Ingest: `MediaQA(index, settings=Settings(transcription={'model': ...}, stages=...)).ingest([file])` in a "
        "child process that loads the models itself. Peak = the largest VmHWM of the child's steps (reset at "
        f"each step's start); polled = the largest VmRSS the parent read every {POLL_SECONDS:g} s.",
        "",
        table(
            ["hours", "model", "stages", "peak MB", "polled MB", "target", "ingest s", "RTF", "passages",
             "other processes' cores"],
            [
                [fixed(r["hours"], 2), r["model"], r["stages_option"] + f" ({', '.join(r['stages'])})",
                 fixed(r["peak_mb"], 0), fixed(r["polled_peak_mb"], 0), "PASS" if r["meets_target"] else "MISS",
                 fixed(r["ingest_s"], 0), fixed(r["rtf"], 3), r["chunks"], fixed(r["cpu"].get("others_cores"), 2)]
                for r in runs
            ],
        ),  # fmt: skip
        "",
    ]
    for r in runs:
        lines += [
            f"## {r['hours']:g} h, {r['model']}, stages {r['stages_option']}: step by step",
            "",
            table(
                ["step", "start s", "seconds", "RSS at start MB", "RSS at end MB", "peak in step MB"],
                [[s["step"], fixed(s["start_s"], 1), fixed(s["seconds"], 1), fixed(s["rss_start_mb"], 0),
                  fixed(s["rss_end_mb"], 0), fixed(s["peak_mb"], 0)] for s in r["steps"] if StepMemory.shown(s)],
            ),  # fmt: skip
            "",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.child_index, args.model, args.stages)
        return 0
    import tempfile

    t_start = time.perf_counter()
    info = run_info(command_line("long_file.py", argv), PACKAGES)
    clips = speech_clips(args.data, [s.strip() for s in args.languages.split(",") if s.strip()])
    hours = [float(h) for h in args.hours.split(",")]
    stage_sets = [s.strip() for s in args.stages.split(",") if s.strip()]
    runs = []
    with tempfile.TemporaryDirectory(prefix="long-file-", dir=args.index) as tmp:
        for h in hours:
            media = long_file(clips, h * 3600.0)
            for stages in stage_sets:
                log(f"ingest of {media.name} ({h:g} h) with {args.model}, stages {stages}")
                runs.append(measure(media, h * 3600.0, args.model, stages, Path(tmp) / f"index-{len(runs)}"))
    data = {**info, "target_mb": TARGET_MB, "clips": [str(c) for c in clips], "runs": runs}
    md, js = write_results(args.out, args.stem, report(runs, info, clips, time.perf_counter() - t_start), data)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(js.read_text(encoding="utf-8"), encoding="utf-8")
    log(f"wrote {md} and {js}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
