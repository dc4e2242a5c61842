#!/usr/bin/env python
"""Spoken XQuAD: XQuAD articles read aloud by espeak-ng, with exact sentence and paragraph times.

    python benchmarks/spoken_xquad.py [--languages en es de] [--articles 24] [--root DIR]

Each of the first ``articles`` XQuAD articles is synthesized in each language, one Opus file per
article and language (``<root>/<lang>/<NN>-<slug>.ogg``, mono, 16 kHz). Sentences are spoken one by
one with espeak-ng; each sentence's audio is resampled to 16 kHz and trimmed of espeak's leading
and trailing silence, then the sentences are joined with 0.25 s of silence between sentences,
1.0 s between paragraphs, 0.5 s before the first and after the last. The start and end second of
every sentence and paragraph are recorded in ``<root>/manifest.json`` together with the XQuAD
questions and answers of those articles (listed once per question id, with the text in every
built language, since XQuAD is parallel across languages). After encoding, every file is decoded
again with `mediarag.media.decode_audio` and checked against the recorded times (length within
50 ms, and the lag of the decoded audio against what was encoded, which is corrected if it is not
zero).

A file is synthesized again only when its text (after sentence splitting) or its settings (voice,
rate, espeak-ng version, this script's pipeline version) changed, or its audio is missing; a
second ``build`` with nothing changed does no synthesis and leaves every file untouched. A
build into an empty root gives the same bytes as any earlier build of the same text and settings
(the Ogg stream serial number is fixed by the text, see `ogg_serial`). The
manifest lists exactly what the last ``build`` asked for; ``<root>/.built-files.json`` remembers
every file built under the root, so that building a subset and then the whole again reuses them.

Python use::

    from spoken_xquad import build, load
    corpus = build(languages=("en", "es"), articles=4)      # or load(root) once built
    f = corpus.file_for("es", 0)
    f.path, f.duration, f.paragraphs[0].start, f.paragraphs[0].sentences[0]   # (start, end, text)
    corpus.questions[0].question["es"], corpus.questions[0].answers["es"]

Data and licence: the text, questions and answers come from XQuAD (Artetxe, Ruder & Yogatama,
2019, "On the cross-lingual transferability of monolingual representations", arXiv:1910.11856;
https://github.com/deepmind/xquad), which is built on SQuAD v1.1 (Rajpurkar et al., 2016) and
Wikipedia, and is licensed CC BY-SA 4.0. The synthesized audio and the manifest are derived from
it and are therefore also licensed CC BY-SA 4.0, with this attribution.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
import wave  # noqa: E402
from collections.abc import Iterable, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from functools import lru_cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

XQUAD_DIR = Path(os.environ.get("XQUAD_DIR", "/work/shared/data/xquad"))
DEFAULT_ROOT = Path("benchmarks/.cache/spoken_xquad")

#: espeak-ng voice for each XQuAD language this builder supports.
VOICES = {"en": "en-us", "es": "es", "de": "de", "ru": "ru", "zh": "cmn"}
SAMPLE_RATE = 16_000
LEAD_SECONDS = 0.5  # before the first sentence (and after the last)
SENTENCE_GAP_SECONDS = 0.25
PARAGRAPH_GAP_SECONDS = 1.0
OPUS_BITRATE = 24_000
#: Samples below this (float, full scale 1.0) at the edges of a sentence count as silence.
TRIM_THRESHOLD = 0.002
TRIM_MARGIN_SECONDS = 0.02
#: Largest allowed difference between recorded and decoded times.
TOLERANCE_SECONDS = 0.05
#: Bumped whenever the audio or the times this script writes would change for the same text.
PIPELINE_VERSION = 1
MANIFEST_VERSION = 1
#: Manifest entries of every file built under the root, also those the manifest does not list.
KNOWN_FILES = ".built-files.json"

SOURCE = (
    "XQuAD (deepmind/xquad; Artetxe, Ruder & Yogatama 2019, 'On the cross-lingual transferability "
    "of monolingual representations', arXiv:1910.11856), built on SQuAD v1.1 (Rajpurkar et al. "
    "2016) and Wikipedia; CC BY-SA 4.0. Audio synthesized with espeak-ng from the XQuAD paragraphs "
    "by mediarag's benchmarks/spoken_xquad.py; this derived audio and manifest are also "
    "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)."
)


# --------------------------------------------------------------------------- corpus model


@dataclass(frozen=True)
class Paragraph:
    index: int
    start: float
    end: float
    text: str
    sentences: list[tuple[float, float, str]]


@dataclass(frozen=True)
class SpokenFile:
    path: Path  # absolute
    language: str
    article: int
    title: str
    duration: float
    paragraphs: list[Paragraph]


@dataclass(frozen=True)
class Question:
    id: str
    article: int
    paragraph: int
    question: dict[str, str]
    answers: dict[str, list[str]]


@dataclass(frozen=True)
class Corpus:
    root: Path
    files: list[SpokenFile]
    questions: list[Question]
    manifest: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def languages(self) -> list[str]:
        return sorted({f.language for f in self.files})

    def file_for(self, language: str, article: int) -> SpokenFile:
        for f in self.files:
            if f.language == language and f.article == article:
                return f
        raise KeyError(f"no spoken file for language {language!r}, article {article}")

    def total_hours(self, language: str) -> float:
        return sum(f.duration for f in self.files if f.language == language) / 3600.0


def load(root: str | os.PathLike[str] = DEFAULT_ROOT) -> Corpus:
    """Read ``<root>/manifest.json`` into a `Corpus` (file paths made absolute)."""
    root = Path(root).resolve()
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("version") != MANIFEST_VERSION:
        version = manifest.get("version")
        raise ValueError(f"{root / 'manifest.json'}: unsupported version {version!r}")
    files = [
        SpokenFile(
            path=root / f["path"],
            language=f["language"],
            article=f["article"],
            title=f["title"],
            duration=f["duration"],
            paragraphs=[
                Paragraph(
                    index=p["index"],
                    start=p["start"],
                    end=p["end"],
                    text=p["text"],
                    sentences=[(s["start"], s["end"], s["text"]) for s in p["sentences"]],
                )
                for p in f["paragraphs"]
            ],
        )
        for f in manifest["files"]
    ]
    questions = [
        Question(
            id=q["id"],
            article=q["article"],
            paragraph=q["paragraph"],
            question=dict(q["question"]),
            answers={k: list(v) for k, v in q["answers"].items()},
        )
        for q in manifest["questions"]
    ]
    return Corpus(root=root, files=files, questions=questions, manifest=manifest)


# --------------------------------------------------------------------------- text


def slugify(title: str) -> str:
    """``Sky_(United_Kingdom)`` -> ``sky-united-kingdom``."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "article"


# Boundaries that mediarag.sentences splits at but that do not end a sentence in these texts:
# abbreviations it does not know ("162 584 Mio. EUR", "EE. UU.", "v. Chr.") and, in German,
# ordinal numbers ("am 7. Januar", "im 18. Jahrhundert", "(5. Rang").
_EXTRA_ABBREVIATIONS = frozenset(
    "mio mrd ee chr jh jhd nr sog ggf evtl vgl inkl ca bzw usw lb".split()
)
_GERMAN_ORDINAL = re.compile(r"^[(\[„\"]?\d{1,3}\.$")


def _false_boundary(last_token: str, language: str) -> bool:
    stem = last_token.strip().rstrip("\"'”’»)]}").lower().lstrip("¿¡\"'“‘«([„")
    if not stem.endswith(".") or stem.endswith(".."):
        return False
    if stem[:-1] in _EXTRA_ABBREVIATIONS:
        return True
    return language == "de" and bool(_GERMAN_ORDINAL.match(last_token.strip()))


def split_sentences(paragraph: str, language: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``paragraph``, in order.

    Sentences come from `mediarag.sentences.merge_sentences`, with the fixes of
    `_false_boundary`. Each span starts and ends on a non-space character; everything between two
    spans (and before the first, after the last) is whitespace, so every non-space character of
    the paragraph is in exactly one sentence and ``paragraph[start:end]`` is the sentence's text.
    """
    from mediarag.schema import Segment
    from mediarag.sentences import merge_sentences

    if not paragraph.strip():
        return []
    merged = merge_sentences([Segment(start=0.0, end=1.0, text=paragraph)])
    spans: list[tuple[int, int]] = []
    cursor = 0
    for sentence in merged:
        first = last = None
        for word in sentence.words:
            at = paragraph.find(word.text, cursor)
            if at < 0:
                raise ValueError(f"cannot locate {word.text!r} in paragraph {paragraph[:60]!r}")
            if paragraph[cursor:at].strip():
                raise ValueError(f"text skipped before {word.text!r}: {paragraph[cursor:at]!r}")
            first = at if first is None else first
            cursor = last = at + len(word.text)
        if first is not None:
            spans.append((first, last))
    if paragraph[cursor:].strip():
        raise ValueError(f"text left after the last sentence: {paragraph[cursor:]!r}")
    fixed: list[tuple[int, int]] = []
    for start, end in spans:
        if fixed:
            prev_start, prev_end = fixed[-1]
            last_token = paragraph[prev_start:prev_end].split()[-1]
            if _false_boundary(last_token, language):
                fixed[-1] = (prev_start, end)
                continue
        fixed.append((start, end))
    return fixed


def text_hash(title: str, paragraphs: Sequence[Sequence[str]]) -> str:
    payload = json.dumps({"title": title, "paragraphs": paragraphs}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------- XQuAD


@lru_cache(maxsize=None)
def _xquad(language: str, xquad_dir: str) -> list[dict]:
    path = Path(xquad_dir) / f"xquad.{language}.json"
    if not path.is_file():
        raise FileNotFoundError(f"XQuAD file not found: {path} (set XQUAD_DIR)")
    return json.loads(path.read_text(encoding="utf-8"))["data"]


def _questions(languages: Sequence[str], articles: int, xquad_dir: Path) -> list[dict]:
    """Questions of the first ``articles`` articles, once per id, texts in every language."""
    data = {lang: _xquad(lang, str(xquad_dir)) for lang in languages}
    out = []
    for a in range(articles):
        for p, para in enumerate(data[languages[0]][a]["paragraphs"]):
            per_lang = {lang: data[lang][a]["paragraphs"][p]["qas"] for lang in languages}
            ids = [q["id"] for q in per_lang[languages[0]]]
            for lang, qas in per_lang.items():
                if [q["id"] for q in qas] != ids:
                    raise ValueError(f"XQuAD {lang} is not parallel at article {a} paragraph {p}")
            for i, qid in enumerate(ids):
                answers = {}
                for lang in languages:
                    texts = [ans["text"] for ans in per_lang[lang][i]["answers"]]
                    answers[lang] = list(dict.fromkeys(texts))
                out.append(
                    {
                        "id": qid,
                        "article": a,
                        "paragraph": p,
                        "question": {lang: per_lang[lang][i]["question"] for lang in languages},
                        "answers": answers,
                    }
                )
    return out


# --------------------------------------------------------------------------- audio


@lru_cache(maxsize=1)
def espeak_version() -> str:
    """``espeak-ng --version`` without its machine-specific data path."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is not installed (apt-get install espeak-ng, or `make system-deps`)"
        )
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split("Data at:")[0].strip()


def _espeak(text: str, voice: str, rate: int, workdir: Path) -> tuple[np.ndarray, int]:
    """Synthesize ``text``; returns float32 mono samples and their sample rate."""
    wav_path = workdir / "sentence.wav"
    proc = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate), "-z", "-w", str(wav_path), "--stdin"],
        input=text.encode("utf-8"),
        capture_output=True,
    )
    if proc.returncode != 0 or not wav_path.is_file():
        error = proc.stderr.decode(errors="replace")
        raise RuntimeError(f"espeak-ng failed on {text[:60]!r}: {error}")
    with wave.open(str(wav_path), "rb") as w:
        if w.getsampwidth() != 2:
            raise RuntimeError(f"espeak-ng wrote {8 * w.getsampwidth()}-bit audio, expected 16")
        rate_in, channels = w.getframerate(), w.getnchannels()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    samples = pcm.reshape(-1, channels).mean(axis=1).astype(np.float32) / 32768.0
    return samples, rate_in


def _resample(samples: np.ndarray, rate_in: int) -> np.ndarray:
    """To mono float32 at SAMPLE_RATE with FFmpeg's resampler (flushed, so nothing is lost)."""
    import av

    if rate_in == SAMPLE_RATE or samples.size == 0:
        return samples.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = rate_in
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _trim(samples: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > TRIM_THRESHOLD)
    if loud.size == 0:
        return samples[:0]
    margin = int(TRIM_MARGIN_SECONDS * SAMPLE_RATE)
    return samples[max(loud[0] - margin, 0) : loud[-1] + 1 + margin]


def _encode_opus(samples: np.ndarray, path: Path, tags: dict[str, str], serial: int) -> None:
    """Encode ``samples`` as Ogg Opus; the same samples, tags and ``serial`` give the same bytes.

    FFmpeg's Ogg muxer draws a random stream serial number unless told to be bit-exact: a random
    serial made every build's files differ (and so their SHA-256, which keys the transcript
    cache of benchmarks/retrieval_corpus.py) though the audio was the same.
    """
    import av
    import av.container

    options = {"serial_offset": str(serial)}
    with av.open(str(path), "w", format="ogg", options=options) as container:
        container.flags |= av.container.Flags.bitexact.value
        for key, value in tags.items():
            container.metadata[key] = value
        # 60 ms frames: a third of the packets of the default 20 ms, so decoding is about twice
        # as fast, at the same size and quality for speech (default complexity 10 is kept).
        stream = container.add_stream("libopus", rate=SAMPLE_RATE, options={"frame_duration": "60"})
        stream.layout = "mono"
        stream.bit_rate = OPUS_BITRATE
        step = SAMPLE_RATE
        for i in range(0, samples.size, step):
            frame = av.AudioFrame.from_ndarray(
                samples[None, i : i + step].astype(np.float32), format="flt", layout="mono"
            )
            frame.sample_rate = SAMPLE_RATE
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def ogg_serial(text_hash: str) -> int:
    """The Ogg stream serial number of a file: fixed by its text, so a rebuild gives the same bytes."""
    return int(text_hash[:7], 16)


def _lag_samples(reference: np.ndarray, decoded: np.ndarray, max_lag: int) -> int:
    """Shift (in samples) of ``decoded`` against ``reference``, by cross-correlation of the first
    ~20 s (positive: the decoded audio is late)."""
    n = min(reference.size, decoded.size, 20 * SAMPLE_RATE)
    a = reference[:n].astype(np.float64)
    b = decoded[:n].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    corr = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[: max_lag + 1], corr[size - max_lag :]])
    return int(lags[int(np.argmax(values))])


# --------------------------------------------------------------------------- one file


def _synthesize_file(job: dict) -> dict:
    """Synthesize, encode and check one article in one language; returns its manifest entry."""
    from mediarag.media import decode_audio

    sr = SAMPLE_RATE
    root = Path(job["root"])
    out_path = root / job["path"]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pieces: list[np.ndarray] = [np.zeros(int(LEAD_SECONDS * sr), np.float32)]
    offset = pieces[0].size
    paragraphs = []
    with tempfile.TemporaryDirectory(prefix="spoken_xquad_") as tmp:
        for p_index, (text, spans) in enumerate(job["paragraphs"]):
            if p_index:
                gap = np.zeros(int(PARAGRAPH_GAP_SECONDS * sr), np.float32)
                pieces.append(gap)
                offset += gap.size
            sentences = []
            for s_index, (a, b) in enumerate(spans):
                if s_index:
                    gap = np.zeros(int(SENTENCE_GAP_SECONDS * sr), np.float32)
                    pieces.append(gap)
                    offset += gap.size
                sentence = text[a:b]
                spoken = " ".join(sentence.replace("\ufeff", "").split())
                audio, rate_in = _espeak(spoken, job["voice"], job["rate"], Path(tmp))
                audio = _trim(_resample(audio, rate_in))
                pieces.append(audio)
                sentences.append([offset, offset + audio.size, sentence])
                offset += audio.size
            paragraphs.append([p_index, text, sentences])
        pieces.append(np.zeros(int(LEAD_SECONDS * sr), np.float32))
        samples = np.concatenate(pieces)
        peak = float(np.max(np.abs(samples))) if samples.size else 0.0
        if peak > 0.99:  # espeak rarely clips, but keep the encoder's input in range
            samples *= 0.99 / peak

        tmp_out = out_path.with_name(f".{out_path.stem}.{os.getpid()}.tmp.ogg")
        tags = {
            "title": f"{job['title']} ({job['language']})",
            "language": job["language"],
            "license": "CC BY-SA 4.0",
            "comment": SOURCE,
        }
        try:
            _encode_opus(samples, tmp_out, tags, ogg_serial(job["text_hash"]))
            decoded = decode_audio(tmp_out, SAMPLE_RATE).samples
            diff = (decoded.size - samples.size) / sr
            if abs(diff) > TOLERANCE_SECONDS:
                raise RuntimeError(
                    f"{job['path']}: decoded length {decoded.size / sr:.3f} s differs from the "
                    f"recorded {samples.size / sr:.3f} s by {diff * 1000:.0f} ms"
                )
            lag = _lag_samples(samples, decoded, max_lag=int(0.2 * sr))
            if abs(lag) > int(0.2 * sr) - 1:
                raise RuntimeError(f"{job['path']}: cannot align decoded audio (lag {lag})")
            os.replace(tmp_out, out_path)
        finally:
            tmp_out.unlink(missing_ok=True)

    # The recorded times are those of the decoded audio: shift by the encoder's lag (0 for Ogg
    # Opus, whose pre-skip FFmpeg removes) and clamp to the decoded length.
    duration = decoded.size / sr

    def t(sample: int) -> float:
        return round(min(max((sample + lag) / sr, 0.0), duration), 4)

    entry_paragraphs = []
    for p_index, text, sentences in paragraphs:
        sents = [{"start": t(a), "end": t(b), "text": s} for a, b, s in sentences]
        entry_paragraphs.append(
            {
                "index": p_index,
                "start": sents[0]["start"] if sents else t(0),
                "end": sents[-1]["end"] if sents else t(0),
                "text": text,
                "sentences": sents,
            }
        )
    return {
        "path": job["path"],
        "language": job["language"],
        "article": job["article"],
        "title": job["title"],
        "duration": round(duration, 4),
        "paragraphs": entry_paragraphs,
        "synthesis": {
            **job["settings"],
            "text_hash": job["text_hash"],
            "bytes": out_path.stat().st_size,
            "lag_ms": round(1000 * lag / sr, 2),
        },
    }


# --------------------------------------------------------------------------- build


def synthesis_settings(language: str, rate: int) -> dict[str, Any]:
    """What a file's audio depends on besides its text: voice, rate, espeak-ng's version, the
    codec and this script's pipeline version (a change to any of them synthesizes it again)."""
    return {
        "voice": VOICES[language],
        "rate": rate,
        "espeak": espeak_version(),
        "codec": f"opus {OPUS_BITRATE // 1000}k 60ms {SAMPLE_RATE} Hz mono",
        "pipeline": PIPELINE_VERSION,
    }


def is_built(entry: dict | None, job: dict, root: Path) -> bool:
    """Whether the file ``job`` asks for is already built as the manifest ``entry`` records it:
    same text and settings, and its audio still there at the recorded size."""
    if not entry:
        return False
    synth = entry.get("synthesis") or {}
    path = root / job["path"]
    return (
        entry.get("language") == job["language"]
        and entry.get("article") == job["article"]
        and synth.get("text_hash") == job["text_hash"]
        and all(synth.get(k) == v for k, v in job["settings"].items())
        and path.is_file()
        and path.stat().st_size == synth.get("bytes")
    )


def _write_json_atomic(path: Path, data: dict) -> bool:
    """Write ``data`` to ``path`` through a temporary file; returns False if it was unchanged."""
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def build(
    languages: Sequence[str] = ("en", "es", "de"),
    articles: int = 24,
    root: str | os.PathLike[str] = DEFAULT_ROOT,
    workers: int = 2,
    rate: int = 175,
    progress: bool = True,
    xquad_dir: str | os.PathLike[str] = XQUAD_DIR,
) -> Corpus:
    """Synthesize the first ``articles`` XQuAD articles in ``languages`` under ``root``.

    Files whose text and settings did not change since the last build are kept as they are.
    The manifest lists exactly the files and questions of this call. Returns `load(root)`.
    """
    languages = list(dict.fromkeys(languages))
    unknown = [lang for lang in languages if lang not in VOICES]
    if unknown or not languages:
        raise ValueError(
            f"unsupported languages {unknown or languages}; choose from {sorted(VOICES)}"
        )
    xquad_dir = Path(xquad_dir)
    total_articles = len(_xquad(languages[0], str(xquad_dir)))
    if not 1 <= articles <= total_articles:
        raise ValueError(f"articles must be between 1 and {total_articles}, got {articles}")
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)

    # Entries of files built before: those of the manifest, and those of earlier builds of other
    # subsets (kept in KNOWN_FILES, so that building 4 articles after 24 and then 24 again does
    # not synthesize 20 articles twice). Each is reused only if its text and settings match.
    manifest_path = root / "manifest.json"
    known_path = root / KNOWN_FILES
    old: dict[str, dict] = {}
    for path in (known_path, manifest_path):
        try:
            files = json.loads(path.read_text(encoding="utf-8"))["files"]
            old.update({f["path"]: f for f in files})
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            pass

    jobs = []
    for lang in languages:
        data = _xquad(lang, str(xquad_dir))
        settings = synthesis_settings(lang, rate)
        for a in range(articles):
            article = data[a]
            paragraphs = []
            for para in article["paragraphs"]:
                text = para["context"]
                paragraphs.append((text, split_sentences(text, lang)))
            title = article["title"]
            path = f"{lang}/{a:02d}-{slugify(title)}.ogg"
            jobs.append(
                {
                    "root": str(root),
                    "path": path,
                    "language": lang,
                    "article": a,
                    "title": title,
                    "voice": VOICES[lang],
                    "rate": rate,
                    "paragraphs": paragraphs,
                    "settings": settings,
                    "text_hash": text_hash(
                        title, [[text[s:e] for s, e in spans] for text, spans in paragraphs]
                    ),
                }
            )

    entries: dict[str, dict] = {}
    todo = []
    for job in jobs:
        if is_built(old.get(job["path"]), job, root):
            entries[job["path"]] = old[job["path"]]
        else:
            todo.append(job)

    if todo:
        from tqdm import tqdm

        bar = tqdm(
            total=len(todo),
            desc="spoken XQuAD",
            unit="file",
            file=sys.stderr,
            disable=not progress,
        )
        with bar:
            if workers <= 1 or len(todo) == 1:
                for job in todo:
                    bar.set_postfix_str(job["path"])
                    entries[job["path"]] = _synthesize_file(job)
                    bar.update()
            else:
                context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
                with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                    futures = {pool.submit(_synthesize_file, job): job for job in todo}
                    for future in as_completed(futures):
                        entry = future.result()
                        entries[entry["path"]] = entry
                        bar.set_postfix_str(entry["path"])
                        bar.update()

    manifest = {
        "version": MANIFEST_VERSION,
        "source": SOURCE,
        "espeak": espeak_version(),
        "rate": rate,
        "files": [entries[job["path"]] for job in jobs],
        "questions": _questions(languages, articles, xquad_dir),
    }
    known = {**old, **entries}
    known = {k: v for k, v in sorted(known.items()) if (root / k).is_file()}
    _write_json_atomic(known_path, {"files": list(known.values())})
    _write_json_atomic(manifest_path, manifest)
    return load(root)


# --------------------------------------------------------------------------- CLI


def _disk_bytes(corpus: Corpus) -> int:
    return sum(f.path.stat().st_size for f in corpus.files if f.path.is_file())


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--languages", nargs="+", default=["en", "es", "de"], choices=sorted(VOICES)
    )
    parser.add_argument("--articles", type=int, default=24)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=int, default=175, help="espeak-ng words per minute")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(list(argv) if argv is not None else None)

    started = time.perf_counter()
    try:
        corpus = build(
            languages=args.languages,
            articles=args.articles,
            root=args.root,
            workers=args.workers,
            rate=args.rate,
            progress=not args.quiet,
        )
    except (RuntimeError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"Spoken XQuAD at {corpus.root}  ({elapsed:.1f} s)")
    print(f"{'language':<10}{'files':>7}{'hours':>9}{'sentences':>11}")
    for lang in corpus.languages:
        files = [f for f in corpus.files if f.language == lang]
        sentences = sum(len(p.sentences) for f in files for p in f.paragraphs)
        print(f"{lang:<10}{len(files):>7}{corpus.total_hours(lang):>9.2f}{sentences:>11}")
    print(f"questions: {len(corpus.questions)}   audio on disk: {_disk_bytes(corpus) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
