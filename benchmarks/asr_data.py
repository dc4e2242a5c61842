"""The data and the transcribers of the ASR benchmark: the clips and long files with their
references, the backends compared (each a `TranscriptionConfig`), and the cache of raw
transcriptions that lets a re-score run without a model."""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.report import log

DEFAULT_DATA = Path(os.environ.get("MEDIARAG_SPEECH_DATA", "/work/shared/data/speech"))
LANGUAGES = ("en", "de", "es", "fr", "pt")


@dataclass
class Clip:
    file: str
    language: str
    reference: str
    duration: float


def load_clips(data: Path, languages: Sequence[str] = LANGUAGES) -> tuple[list[Clip], list[dict[str, Any]]]:
    """Usable rows of manifest.jsonl for ``languages`` and the skipped ones with the reason."""
    clips, skipped = [], []
    for line in (data / "manifest.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        why = None
        if row.get("language") not in languages:
            why = f"language {row.get('language')!r} not benchmarked"
        elif not row.get("reference_text"):
            why = "no reference transcript" + (f" ({row['reference_quality']})" if row.get("reference_quality") else "")
        elif str(row.get("reference_quality") or "").lower().startswith("weak"):
            why = f"reference_quality: {row['reference_quality']}"
        if why:
            skipped.append({"file": row["file"], "language": row.get("language"), "reason": why})
        else:
            clips.append(Clip(row["file"], row["language"], row["reference_text"], float(row["duration_s"])))
    return clips, skipped


@dataclass
class LongFile:
    file: str
    language: str
    duration: float
    spans: list[dict[str, Any]] = field(default_factory=list)  # start_s, end_s, source_file, reference_text

    @property
    def reference(self) -> str:
        return " ".join(s["reference_text"] for s in self.spans)


def load_long(data: Path) -> list[LongFile]:
    """The ``long/*concat*`` files of long/segments.jsonl with their clip spans, in order."""
    files: dict[str, LongFile] = {}
    for line in (data / "long" / "segments.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        name = row["file"]
        if not (name.startswith("long/") and "concat" in name):
            continue
        lf = files.setdefault(name, LongFile(name, row["language"], float(row.get("total_duration_s") or 0)))
        lf.spans.append(row)
    for lf in files.values():
        lf.spans.sort(key=lambda r: r["start_s"])
    return sorted(files.values(), key=lambda f: (f.file != "long/librivox_en_concat.wav", f.file))


# ============================================================================================
# Backends
# ============================================================================================


@dataclass
class Backend:
    key: str
    label: str
    kind: str  # faster-whisper | transformers (a TranscriptionConfig backend)
    model: str
    detect: bool  # language detected rather than given
    languages: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)  # TranscriptionConfig fields
    torch_threads: int | None = None  # transformers only: torch.set_num_threads before running

    def make(self) -> Any:
        """The transcriber, built by `make_transcriber` from a `TranscriptionConfig` whose
        fields are ``options``; ``chunk_length_s=0`` (Whisper's own sequential long-form
        decoding in the transformers backend) is outside what `TranscriptionConfig` accepts
        (``chunk_length_s > 0``), so that one backend is the public `TransformersTranscriber`."""
        if self.kind == "transformers" and self.options.get("chunk_length_s") == 0:
            from mediarag.transcribe import TransformersTranscriber

            return TransformersTranscriber(self.model, **self.options)
        from mediarag.transcribe import TranscriptionConfig, make_transcriber

        return make_transcriber(TranscriptionConfig(backend=self.kind, model=self.model, **self.options))


#: Flaws of the references noticed while reading the alignments; left as they are (each costs
#: every backend about the same one or two word errors).
REFERENCE_NOTES = {
    "fleurs/fleurs-de-008.ogg": 'the reference ends in "deutet.x": the stray "x" is a word no backend can match',
    "fleurs/fleurs-fr-002.ogg": 'the reference writes "qu’« on" (normalized "qu on"), Whisper "qu\'on" ("quon")',
    "fleurs/fleurs-en-000.ogg": 'the reference says "25 to 30 year" where the speaker says "years"',
}


def backends(quick: bool) -> list[Backend]:
    fw = {"beam_size": 5}
    tf = {"chunk_length_s": 20.0, "stride_length_s": 5.0}
    out = [
        Backend("fw-base", "faster-whisper base, language given", "faster-whisper", "base", False, LANGUAGES, fw),
        Backend("fw-base-auto", "faster-whisper base, language detected", "faster-whisper", "base", True, LANGUAGES, fw),
        Backend("fw-tiny.en", "faster-whisper tiny.en", "faster-whisper", "tiny.en", False, ("en",), fw),
        Backend("tf-base", "transformers pipeline base, language given", "transformers", "base", False, LANGUAGES, tf),
        # Not in the brief's list: the same backend with the pipeline's chunking off (Whisper's
        # own sequential long-form decoding), to tell chunk merging apart from the model.
        Backend("tf-base-seq", "transformers pipeline base, language given, chunk_length_s=0", "transformers",
                "base", False, LANGUAGES, {"chunk_length_s": 0.0}),
    ]
    return out[:2] if quick else out


def transcript_record(tr: Any, seconds: float, duration: float) -> dict[str, Any]:
    """What is kept of a transcription: text, language, timing, and segment/word times."""
    segments = []
    for s in tr.segments:
        seg: dict[str, Any] = {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "language": s.language}
        if s.words:
            seg["words"] = [{"start": round(w.start, 3), "end": round(w.end, 3), "text": w.text} for w in s.words]
        segments.append(seg)
    return {
        "text": tr.text,
        "language": tr.language,
        "seconds": round(seconds, 3),
        "duration": round(duration, 3),
        "segments": segments,
    }


class Cache:
    """Raw transcriptions by backend and file, kept in a JSON file (or only in memory), and
    under ``_runs`` what the run that made them measured (model load time, machine load)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, dict[str, Any]] = {}
        if path and path.exists():
            self.data = json.loads(path.read_text())

    def get(self, backend: str, file: str) -> dict[str, Any] | None:
        return self.data.get(backend, {}).get(file)

    def run_info(self, stage: str) -> dict[str, Any] | None:
        return self.data.get("_runs", {}).get(stage)

    def put_run_info(self, stage: str, info: dict[str, Any]) -> None:
        self.data.setdefault("_runs", {})[stage] = info

    def put(self, backend: str, file: str, record: dict[str, Any]) -> None:
        self.data.setdefault(backend, {})[file] = record

    def save(self) -> None:
        if self.path:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, ensure_ascii=False))
            tmp.replace(self.path)


class Runner:
    """One backend's model, loaded on first use, transcribing files (through the cache)."""

    def __init__(self, backend: Backend, data: Path, cache: Cache, transcribe: bool = True) -> None:
        self.backend, self.data, self.cache = backend, data, cache
        self.may_transcribe = transcribe
        self.model: Any = None
        self.load_s: float | None = None
        self.fresh = 0  # transcriptions made (not taken from the cache)

    def load(self, warm_file: Path, language: str) -> None:
        """Load and warm up the model (once; the warm-up transcription is not timed)."""
        if self.model is not None:
            return
        from mediarag.media import decode_audio

        t0 = time.perf_counter()
        model = self.backend.make()
        model.warm_up()
        self.load_s = time.perf_counter() - t0
        audio = decode_audio(warm_file)
        model.transcribe(audio, language=None if self.backend.detect else language)  # warm-up, not timed
        self.model = model
        log(f"  {self.backend.key}: model loaded in {self.load_s:.1f} s and warmed up")

    def transcribe(self, rel: str, language: str, warm_file: Path) -> dict[str, Any]:
        cached = self.cache.get(self.backend.key, rel)
        if cached is not None:
            return cached
        if not self.may_transcribe:
            raise RuntimeError(f"{rel} is not in the cache for {self.backend.key}")
        from mediarag.media import decode_audio

        self.load(warm_file, language)
        audio = decode_audio(self.data / rel)
        t0 = time.perf_counter()
        tr = self.model.transcribe(audio, language=None if self.backend.detect else language)
        seconds = time.perf_counter() - t0
        record = transcript_record(tr, seconds, audio.duration)
        self.cache.put(self.backend.key, rel, record)
        self.cache.save()  # after every file: a killed run loses nothing
        self.fresh += 1
        return record

    def close(self) -> None:
        self.model = None
        gc.collect()
