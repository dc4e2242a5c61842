"""The spoken XQuAD corpus of the retrieval benchmark, and its transcripts (cached).

`load_corpus` builds or extends the corpus (benchmarks/spoken_xquad.py) and picks the files and
questions of a run. `Transcripts` runs every file through the first stages of mediarag's public
pipeline (decode -> transcribe -> sentences, with the default transcriber: Whisper base, int8,
beam 5, VAD, language detected) once, and caches the sentence-level transcripts as JSON in
benchmarks/.cache/transcripts/, keyed by the audio's SHA-256 (`audio_sha256`: the encoded audio
packets, not the container's bytes), the model, the task and the version of the transcription
code (`transcriber_version`). The transcripts of the default corpus also ship, gzipped, in
benchmarks/transcripts/ under the same keys. benchmarks/answers.py reads the
same cache.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.machine import version
from core.report import log

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
CORPUS_ROOT = CACHE / "spoken_xquad"
TRANSCRIPTS = CACHE / "transcripts"
#: Transcripts shipped with the repository (gzipped JSON, same names and keys as the cache): a
#: fresh clone whose transcription code is unchanged needs no ASR pass; any change to that code
#: changes the key, and the files are transcribed again.
SHIPPED_TRANSCRIPTS = HERE / "transcripts"
WHISPER_MODEL = "base"
FULL_LANGUAGES = ("en", "es", "de")


class Timings:
    """Wall time of each step, in the order the steps first ran (repeated steps add up)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    @contextmanager
    def step(self, name: str, note: str = "") -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started, note)

    def add(self, name: str, seconds: float, note: str = "") -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        if note:
            self.notes[name] = note


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------


def language_order(lang: str) -> tuple[int, str]:
    """Sort key of a language: English, Spanish, German, then the others by name."""
    return (FULL_LANGUAGES.index(lang) if lang in FULL_LANGUAGES else 99, lang)


def load_corpus(root: Path, articles: int, languages: Sequence[str]) -> Any:
    """The spoken XQuAD corpus under ``root``, restricted to ``articles`` and ``languages``.

    Builds (or extends) it with benchmarks/spoken_xquad.py when the manifest lacks some of them;
    an extension keeps what the manifest already lists, so a quick run never shrinks it.
    """
    import spoken_xquad as sx

    corpus = None
    if (root / "manifest.json").is_file():
        corpus = sx.load(root)
    have_langs = set(corpus.languages) if corpus else set()
    have_articles = {f.article for f in corpus.files} if corpus else set()
    missing = [
        (lang, a)
        for lang in languages
        for a in range(articles)
        if corpus is None
        or lang not in have_langs
        or a not in have_articles
        or not any(f.language == lang and f.article == a for f in corpus.files)
    ]
    if missing:
        langs = sorted(set(languages) | have_langs, key=language_order)
        n = max([articles, *(a + 1 for a in have_articles)])
        log(f"corpus: building spoken XQuAD ({n} articles, {' '.join(langs)}) under {root}")
        corpus = sx.build(languages=langs, articles=n, root=root, progress=False)
    files = [f for f in corpus.files if f.language in languages and f.article < articles]
    files.sort(key=lambda f: (language_order(f.language), f.article))
    questions = [q for q in corpus.questions if q.article < articles]
    for f in files:
        if not f.path.is_file():
            raise FileNotFoundError(f"{f.path}: listed in the manifest but missing")
    return sx.Corpus(root=corpus.root, files=files, questions=questions, manifest=corpus.manifest)


# ---------------------------------------------------------------------------------------------
# Transcripts (cached)
# ---------------------------------------------------------------------------------------------


#: What the cached transcripts were made with, besides the audio, the model and the task. Bump
#: it when a change to mediarag's transcription or sentence building changes what they say (a
#: hash of the source files made every refactoring cost a 5-hour transcription pass).
#: "2": main 5d00147's output, shipped in benchmarks/transcripts/ (re-keyed from the old code
#: hash). Later code transcribes a little differently: on a sample of two files (05-teacher),
#: English differs in commas and casing (times within 0.02 s), German in a few words and in
#: one more sentence (13, not 12). Bump it to measure the current transcriber (a 5.2-hour pass).
TRANSCRIPT_VERSION = "2"


def transcriber_version() -> dict[str, str]:
    """What the cached transcripts depend on besides the audio, the model and the task."""
    import mediarag

    return {
        "mediarag": mediarag.__version__,
        "transcripts": TRANSCRIPT_VERSION,
        "faster_whisper": version("faster-whisper"),
    }


def audio_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's audio: the first audio stream's codec set-up and its packets (with
    their times), as demuxed, without decoding.

    The container around them (Ogg page serial numbers and checksums, tags such as the muxer's
    version string) does not count: spoken XQuAD built before its serial number was fixed drew a
    random one per build, so the same audio came in files of different SHA-256.
    """
    import av

    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        digest.update(bytes(stream.codec_context.extradata or b""))
        for packet in container.demux(stream):
            if packet.size:
                digest.update((packet.pts or 0).to_bytes(8, "little", signed=True))
                digest.update(bytes(packet))
    return digest.hexdigest()


def transcript_cache_path(sha: str, task: str, code: dict[str, str]) -> Path:
    """Where the transcript of the audio with hash ``sha`` (`audio_sha256`) is cached."""
    key = json.dumps({"model": WHISPER_MODEL, "task": task, **code}, sort_keys=True)
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    return TRANSCRIPTS / f"{sha[:16]}-{WHISPER_MODEL}-{task}-{tag}.json"


def shipped_path(path: Path) -> Path:
    """The shipped (gzipped) copy of a cache file."""
    return SHIPPED_TRANSCRIPTS / (path.name + ".gz")


#: How far (seconds) a shipped transcript's audio may be from a built file's length and still be
#: its transcript (`shipped_for`).
SHIPPED_DURATION_TOLERANCE = 0.5


def shipped_for(file: Any, task: str, code: dict[str, str]) -> Path | None:
    """The cache path of the shipped transcript of the same corpus file, task and code, whose
    audio has the file's length; None when none is shipped.

    The build is byte-identical on one machine, but not across machines: on an Intel Xeon with
    AVX-512 none of the 72 shipped transcripts (made from an AMD EPYC's build) matched by audio
    hash, with the same espeak-ng, PyAV and numpy (the Opus encoder's float code paths depend on
    the CPU, the likely cause). The text, voice and length are the same, so the shipped
    transcript of that file is used."""
    suffix = transcript_cache_path("0" * 16, task, code).name.split("-", 1)[1] + ".gz"
    found = _shipped_by_file(suffix).get(f"{file.language}/{Path(file.path).name}")
    if found is None or abs(found[1] - file.duration) > SHIPPED_DURATION_TOLERANCE:
        return None
    return found[0]


@lru_cache(maxsize=None)
def _shipped_by_file(suffix: str) -> dict[str, tuple[Path, float]]:
    """The shipped transcripts whose names end in ``suffix``, read once: by corpus file name,
    their cache path and their audio's length."""
    out = {}
    for shipped in sorted(SHIPPED_TRANSCRIPTS.glob(f"*-{suffix}")):
        with gzip.open(shipped, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        duration = float(data["transcript"].get("duration") or 0.0)
        out[data.get("file")] = (TRANSCRIPTS / shipped.name[: -len(".gz")], duration)
    return out


def cache_path_for(file: Any, audio_sha: str, task: str, code: dict[str, str]) -> Path:
    """Where ``file``'s transcript is cached: by its audio (`audio_sha256`), else the shipped
    transcript of the same file and length (`shipped_for`), else the audio's path to fill."""
    path = transcript_cache_path(audio_sha, task, code)
    return path if is_cached(path) else shipped_for(file, task, code) or path


def is_cached(path: Path) -> bool:
    return path.is_file() or shipped_path(path).is_file()


def read_cached(path: Path) -> dict[str, Any]:
    """A cached transcript record (``shipped`` is set when it came from benchmarks/transcripts/)."""
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    with gzip.open(shipped_path(path), "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    data["shipped"] = True
    return data


@dataclass
class TranscriptJob:
    file: Any  # spoken_xquad.SpokenFile
    task: str
    sha: str = ""
    path: Path | None = None


class Transcripts:
    """Sentence-level transcripts of every (file, task), transcribed once and cached.

    After `run`: ``transcripts[(path, task)]`` (a mediarag Transcript whose segments are the
    sentences, words included, as the pipeline's sentences stage makes them), the same as
    ``sentences[(path, task)]`` and ``detected[(path, task)]`` (the language), ``hashes[path]``
    (the file's SHA-256, as the index records it), ``audio_hashes[path]`` (the cache key) and ``stats[(language, task)]`` (files, cached, audio and wall seconds)."""

    def __init__(self, timings: Timings, workers: int = 1) -> None:
        self.timings = timings
        self.workers = workers
        self.shard: tuple[int, int] | None = None
        self.version = transcriber_version()
        self.transcripts: dict[tuple[str, str], Any] = {}  # (path, task) -> Transcript
        self.sentences: dict[tuple[str, str], list[Any]] = {}  # (path, task) -> [Segment]
        self.detected: dict[tuple[str, str], str] = {}
        self.hashes: dict[str, str] = {}
        self.audio_hashes: dict[str, str] = {}
        self.stats: dict[tuple[str, str], dict[str, float]] = defaultdict(
            lambda: {"files": 0, "cached": 0, "shipped": 0, "audio_s": 0.0, "wall_s": 0.0,
                     "cold_audio_s": 0.0, "recorded_s": 0.0}
        )  # fmt: skip
        self._pipeline: Any = None

    def pipeline(self) -> Any:
        """The pipeline's first three stages over the default transcriber (built on first use)."""
        if self._pipeline is None:
            from mediarag.pipeline import Decode, Pipeline, Sentences, Transcribe
            from mediarag.transcribe import TranscriptionConfig, make_transcriber

            with self.timings.step("load Whisper base"):
                transcriber = make_transcriber(TranscriptionConfig(model=WHISPER_MODEL))
                transcriber.warm_up()
            self._pipeline = Pipeline([Decode(), Transcribe(transcriber), Sentences()])
        return self._pipeline

    def run(self, files: Sequence[Any], translate: bool = True) -> None:
        """Transcribe every file (``transcribe``; with ``translate``, non-English ones also
        ``translate``)."""
        from mediarag.media import file_sha256
        from mediarag.schema import Transcript

        # Article by article, so that an interrupted cold run leaves the first articles complete
        # (every language and task) and ``--articles N`` can already use them.
        jobs = [TranscriptJob(f, "transcribe") for f in files]
        if translate:
            jobs += [TranscriptJob(f, "translate") for f in files if f.language != "en"]
        jobs.sort(key=lambda j: (j.file.article, j.task != "transcribe", language_order(j.file.language)))
        with self.timings.step("hash audio files"):
            self.hashes = {str(f.path): file_sha256(f.path) for f in files}
            self.audio_hashes = {str(f.path): audio_sha256(f.path) for f in files}
        for job in jobs:
            job.sha = self.hashes[str(job.file.path)]
            job.path = cache_path_for(job.file, self.audio_hashes[str(job.file.path)], job.task, self.version)
        todo = [j for j in jobs if not is_cached(j.path)]
        if self.shard:
            index, count = self.shard
            mine = {id(j) for j in todo[index::count]}
            jobs = [j for j in jobs if id(j) in mine]
            todo = [j for j in todo if id(j) in mine]
        if self.workers > 1 and todo:
            self._fill_in_parallel(todo)
            todo = [j for j in jobs if not is_cached(j.path)]
        total_audio = sum(j.file.duration for j in todo)
        log(
            f"transcripts: {len(jobs)} (file, task) pairs, {len(jobs) - len(todo)} cached, "
            f"{len(todo)} to transcribe ({total_audio / 3600:.2f} h of audio)"
        )
        done_audio = done_wall = 0.0
        for job in jobs:
            key = (str(job.file.path), job.task)
            stats = self.stats[(job.file.language, job.task)]
            stats["files"] += 1
            stats["audio_s"] += job.file.duration
            if is_cached(job.path):
                data = read_cached(job.path)
                stats["cached"] += 1
                stats["shipped"] += bool(data.get("shipped"))
                stats["recorded_s"] += float(data.get("seconds", 0.0))
            else:
                data, wall = self._transcribe(job)
                stats["wall_s"] += wall
                stats["recorded_s"] += wall
                stats["cold_audio_s"] += job.file.duration
                done_audio += job.file.duration
                done_wall += wall
                left = (total_audio - done_audio) * done_wall / max(done_audio, 1e-9)
                log(
                    f"  {job.task:<10} {job.file.language}/{job.file.path.name:<40} "
                    f"{job.file.duration:6.1f} s audio in {wall:6.1f} s (RTF {wall / job.file.duration:.3f})"
                    f"  {done_audio / max(total_audio, 1e-9):4.0%} done, ~{left / 60:.1f} min left"
                )
            transcript = Transcript.model_validate(data["transcript"])
            self.transcripts[key] = transcript
            self.sentences[key] = list(transcript.segments)
            self.detected[key] = transcript.language
        for (lang, task), stats in self.stats.items():
            self.timings.add(
                f"transcription: {lang} {task}",
                stats["wall_s"],
                f"{stats['audio_s'] / 3600:.2f} h audio, {int(stats['cached'])}/{int(stats['files'])} cached"
                f" ({int(stats['shipped'])} shipped in benchmarks/transcripts/)",
            )

    def _fill_in_parallel(self, todo: Sequence[TranscriptJob]) -> None:
        """Transcribe ``todo`` in ``workers`` subprocesses of one CTranslate2 thread each
        (``--shard i/N`` each), which write the cache; the caller then reads it as if it had been
        filled earlier. (Two threads of one process stall each other whenever anything else runs
        on a 2-core machine.)"""
        log(f"transcribing {len(todo)} files in {self.workers} worker processes, one thread each")
        started = time.perf_counter()
        script = HERE / "retrieval.py"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # CTranslate2's default thread count
        procs = [
            subprocess.Popen([sys.executable, str(script), *sys.argv[1:], "--transcribe-only", "--shard", f"{i}/{self.workers}"],
                             env=env)
            for i in range(self.workers)
        ]  # fmt: skip
        codes = [p.wait() for p in procs]
        if any(codes):
            raise SystemExit(f"transcription workers failed: exit codes {codes}")
        self.timings.add("transcription (parallel workers)", time.perf_counter() - started,
                         f"{self.workers} processes, {len(todo)} files")  # fmt: skip

    def _transcribe(self, job: TranscriptJob) -> tuple[dict, float]:
        pipeline = self.pipeline()
        started = time.perf_counter()
        item = pipeline.process(job.file.path, sha256=job.sha, task=job.task)
        wall = time.perf_counter() - started
        stored = item.transcript.model_copy(update={"source": str(job.file.path), "segments": item.sentences})
        data = {
            "key": {"audio_sha256": self.audio_hashes[str(job.file.path)], "sha256": job.sha,
                    "model": WHISPER_MODEL, "task": job.task, **self.version},
            "file": str(Path(job.file.path).relative_to(job.file.path.parents[1])),
            "seconds": round(wall, 2),
            "load_average": round(os.getloadavg()[0], 2),
            "transcript": json.loads(stored.model_dump_json()),
        }
        TRANSCRIPTS.mkdir(parents=True, exist_ok=True)
        tmp = job.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, job.path)
        return data, wall
