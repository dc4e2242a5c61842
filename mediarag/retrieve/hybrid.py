"""Hybrid retrieval: passages found by meaning and by their words, fused, and an "I don't know"
decided from both.

The dense side (the embedder's vectors) finds passages that say the same thing in other words
or in another language; the keyword side (`mediarag.store.FaissStore.keyword_search`) finds the
passages that hold the question's names, numbers, codes and rare words, which meaning alone
cannot tell apart. Both give their best `candidates`; the fusion (`fuse_scores`, the default)
ranks each passage by its cosine plus ``keyword_weight`` times its relative keyword score (about 1
when it holds each term of the question once). Reciprocal-rank fusion (`fuse`) is the
alternative; on spoken XQuAD it was worse across languages, where it lets a weak keyword match
outrank the right passage (benchmarks/results/hybrid.md). A question asked in another language
than the passages it is closest to by meaning is ranked with looser fuzzy matching
(``cross_fuzzy``), since its names and cognates are spelled alike there rather than the same
(benchmarks/results/hybrid-xlang.md).

Whether the question is answered at all is decided from the `Evidence` of both searches (how far
the best passage stands out by meaning, how much of the question's words it holds, which of the
question's words the index never mentions, whether the question is in another language than
the best passage, whose cosines run lower, how many of the best passages come from the best
one's file), combined by a logistic model measured on spoken
XQuAD (`ABSTENTION`, per embedder) and compared with ``min_confidence``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..schema import Chunk, Hit
from ..terms import guess_language
from .config import RetrievalMode

if TYPE_CHECKING:
    import numpy as np

    from ..embed.base import Embedder
    from ..store.base import VectorStore
    from ..store.keywords import FuzzyMatch

log = logging.getLogger("mediarag.retrieve")

Fusion = Literal["weighted", "rrf"]

#: Keyword weight of each fusion, measured with multilingual-e5-small (whose cosines lie in a
#: narrow band) on the tuning halves of spoken XQuAD (articles 0-11) and of the names-and-numbers
#: set (its maintenance and shipping records): cosine + 0.15 x relative keyword score, within 0.4
#: points of XQuAD's best hit@1 (0.075) and 3.7 points above it on names and numbers; reciprocal
#: rank with rrf_k 5 and the keyword ranking at half the weight of the dense one.
KEYWORD_WEIGHT: dict[str, float] = {"weighted": 0.15, "rrf": 0.5}
RRF_K = 5.0
#: The relative keyword score that keeps a passage among the hits whatever its cosine.
KEYWORD_SUPPORT = 0.5


@dataclass(frozen=True)
class Candidate:
    """A passage from either search: its cosine and rank in the dense ranking, its relative
    keyword score and rank in the keyword ranking (None where it is not in one), and its fused
    score."""

    chunk: Chunk
    fused: float
    dense: float | None = None
    dense_rank: int | None = None
    keyword: float | None = None
    keyword_rank: int | None = None


#: How many of the best dense candidates `Evidence.top_file_share` looks at.
TOP_FILE_PASSAGES = 5

#: The figures of the `Evidence` an `AbstentionModel` weighs, in its order.
FEATURES = (
    "top_dense", "background_gap", "standout", "top_keyword", "agree", "missing", "cross_language", "top_file_share",
)  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """What both searches found for a question: the fused candidates (best first) and the
    figures the answer-or-not decision rests on.

    - ``top_dense``: the best cosine (None without a dense side);
    - ``background_gap``: the best cosine minus the mean of the dense candidates ranked 11th and
      below (how far it stands out from unrelated passages);
    - ``standout``: the best cosine minus the mean of the other dense candidates, in units of
      their standard deviation;
    - ``top_keyword``: the best relative keyword score;
    - ``agree``: both searches put the same passage first;
    - ``missing``: the share of the question's term weight that no passage holds;
    - ``cross_language``: the question is in another language than the best passage
      (`is_cross_language`);
    - ``top_file_share``: the share of the `TOP_FILE_PASSAGES` best dense candidates from the
      best one's file (an answer's file tends to hold several passages about it);
    - ``dense_count``: how many dense candidates the figures rest on.
    """

    candidates: list[Candidate]
    top_dense: float | None = None
    background_gap: float = 0.0
    standout: float = 0.0
    top_keyword: float = 0.0
    agree: bool = False
    missing: float = 0.0
    dense_count: int = 0
    cross_language: bool = False
    top_file_share: float = 0.0

    def features(self) -> list[float]:
        """The figures in `FEATURES` order (a missing dense side counts as cosine -1)."""
        return [
            self.top_dense if self.top_dense is not None else -1.0,
            self.background_gap,
            self.standout,
            self.top_keyword,
            float(self.agree),
            self.missing,
            float(self.cross_language),
            self.top_file_share,
        ]

    @classmethod
    def of(
        cls,
        candidates: list[Candidate],
        dense: Sequence[float],
        keyword: Sequence[float],
        agree: bool,
        missing: float,
        cross_language: bool = False,
        dense_sources: Sequence[str] = (),
    ) -> Evidence:
        """The evidence of fused ``candidates`` from the dense cosines and relative keyword
        scores of both rankings (best first), and the files of the dense ranking's passages."""
        top = dense[0] if dense else None
        background_gap = standout = 0.0
        if len(dense) > 1 and top is not None:
            rest = list(dense[1:])
            tail = list(dense[10:]) or rest
            background_gap = top - sum(tail) / len(tail)
            mean = sum(rest) / len(rest)
            spread = math.sqrt(sum((x - mean) ** 2 for x in rest) / len(rest))
            standout = (top - mean) / (spread + 1e-6)
        top_keyword = keyword[0] if keyword else 0.0
        best = list(dense_sources[:TOP_FILE_PASSAGES])
        share = best.count(best[0]) / TOP_FILE_PASSAGES if best else 0.0
        return cls(
            candidates, top, background_gap, standout, top_keyword, agree, missing, len(dense), cross_language, share
        )

    def confidence(self, model: AbstentionModel) -> float:
        """The model's confidence that the index holds the answer."""
        return model.confidence(self.features())


@dataclass(frozen=True)
class AbstentionModel:
    """``confidence = 1 / (1 + exp(-(intercept + sum(weights * Evidence.features()))))``; a
    question is answered when it reaches ``threshold``."""

    intercept: float
    weights: tuple[float, ...]
    threshold: float

    def confidence(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.weights, features))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


#: Measured abstention models, by embedder name: fit on spoken XQuAD (24 articles, en/es/de
#: questions over speech of their language and English questions over Spanish and German
#: speech, each asked with its article indexed and left out), threshold keeping 90 % of the
#: answerable questions in leave-one-article-out (benchmarks/results/hybrid.md).
ABSTENTION: dict[str, AbstentionModel] = {
    # Keeps 90 % of answerable questions and refuses 68 % [66, 69] of unanswerable ones, against
    # 34 % for the best cosine alone at the same 90 % (and 29 % for the 0.78 cosine threshold);
    # 58 % [56, 59] before the cross-language and top-file figures.
    "multilingual-e5-small": AbstentionModel(
        intercept=-37.32365,
        weights=(38.41297, 74.8619, -0.24203, 4.77716, 0.65442, 1.74513, 2.2002, 2.37801),
        threshold=0.2444,
    ),
}


def passage_language(chunk: Chunk) -> str | None:
    """The language of a passage's text: English where Whisper translated it, else its own."""
    if chunk.original_text and chunk.original_text != chunk.text:
        return "en"
    return chunk.language


def is_cross_language(question: str, chunk: Chunk) -> bool:
    """Whether ``question`` is (by its function words, `mediarag.terms.guess_language`) in
    another language than ``chunk``'s text; False when either is unknown."""
    asked, spoken = guess_language(question), passage_language(chunk)
    return asked is not None and spoken is not None and asked != spoken


def fuse(
    dense: Sequence[Hit], keyword: Sequence[Hit], *, rrf_k: float = RRF_K, keyword_weight: float = 0.5
) -> list[Candidate]:
    """Reciprocal-rank fusion of a dense and a keyword ranking (best first), scaled so that a
    passage first in both scores 1.0."""
    found = _gather(dense, keyword)
    best = (1.0 if dense else 0.0) / (rrf_k + 1) + (keyword_weight if keyword else 0.0) / (rrf_k + 1)
    out = []
    for fields in found.values():
        score = 0.0
        if fields.get("dense_rank"):
            score += 1.0 / (rrf_k + fields["dense_rank"])
        if fields.get("keyword_rank"):
            score += keyword_weight / (rrf_k + fields["keyword_rank"])
        out.append(Candidate(fused=score / best if best else 0.0, **fields))
    out.sort(key=lambda c: (-c.fused, c.dense_rank or 10**9, c.keyword_rank or 10**9))
    return out


def fuse_scores(dense: Sequence[Hit], keyword: Sequence[Hit], *, keyword_weight: float = 0.15) -> list[Candidate]:
    """Score fusion: each passage's cosine plus ``keyword_weight`` times its relative keyword
    score, best first. A passage only the keyword side found counts with the lowest cosine of
    the dense candidates (an upper bound of its own; on spoken XQuAD the ranking was the same as
    with its exact cosine)."""
    found = _gather(dense, keyword)
    floor = min((h.score for h in dense), default=0.0)
    out = [
        Candidate(
            fused=(f["dense"] if f.get("dense") is not None else floor) + keyword_weight * (f.get("keyword") or 0.0),
            **f,
        )
        for f in found.values()
    ]
    out.sort(key=lambda c: (-c.fused, c.dense_rank or 10**9, c.keyword_rank or 10**9))
    return out


def _gather(dense: Sequence[Hit], keyword: Sequence[Hit]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for rank, hit in enumerate(dense, 1):
        found.setdefault(hit.chunk.id, {"chunk": hit.chunk}).update(dense=hit.score, dense_rank=rank)
    for rank, hit in enumerate(keyword, 1):
        found.setdefault(hit.chunk.id, {"chunk": hit.chunk}).update(keyword=hit.score, keyword_rank=rank)
    return found


class HybridRetriever:
    """Finds passages by meaning and by words (`mode` ``hybrid``), or by words only (``keyword``),
    in a store that has a keyword index (`mediarag.store.FaissStore`; a store without one is
    searched by meaning only, with a warning).

    Hits come best first; their ``score`` is the fused score (``weighted``: cosine plus the
    keyword bonus; ``rrf``: 1.0 = first in both rankings) in hybrid mode, and the relative keyword
    score in keyword mode. ``min_score``, when given, keeps its dense meaning: the question is
    answered only when the best passage's cosine reaches it. Otherwise hybrid mode answers when
    the `Evidence` reaches ``min_confidence`` under the embedder's measured `AbstentionModel`
    (where it has none, or the index has fewer passages than ``candidates``, whose distribution
    its figures describe: when the best cosine reaches the embedder's ``min_score``), and keyword
    mode when some passage holds a term of the question.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        k: int = 4,
        min_score: float | None = None,
        *,
        mode: RetrievalMode = "hybrid",
        fusion: Fusion = "weighted",
        candidates: int = 50,
        rrf_k: float = RRF_K,
        keyword_weight: float | None = None,
        keyword_floor: float = 0.0,
        min_confidence: float | None = None,
        fuzzy: FuzzyMatch | None = None,
        cross_fuzzy: FuzzyMatch | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.k = k
        self.mode = mode
        self.fusion = fusion
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.keyword_weight = KEYWORD_WEIGHT[fusion] if keyword_weight is None else keyword_weight
        self.keyword_floor = keyword_floor
        self.fuzzy = fuzzy
        self.cross_fuzzy = cross_fuzzy
        self._min_score = min_score
        self._min_confidence = min_confidence
        self._last: tuple[str, np.ndarray] | None = None
        self._warned = False

    @property
    def min_score(self) -> float:
        """The cosine a passage of a conversation's own files needs (as `DenseRetriever`'s)."""
        if self._min_score is not None:
            return self._min_score
        return float(getattr(self.embedder, "min_score", -1.0))

    @property
    def abstention(self) -> AbstentionModel | None:
        """The embedder's measured abstention model, with ``min_confidence`` as its threshold."""
        model = ABSTENTION.get(getattr(self.embedder, "name", ""))
        if model is None or self._min_confidence is None:
            return model
        return AbstentionModel(model.intercept, model.weights, self._min_confidence)

    def warm_up(self) -> None:
        if self.mode != "keyword":
            self.embedder.warm_up()

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding (the last one is kept for a conversation's own files)."""
        if self._last is None or self._last[0] != query:
            self._last = (query, self.embedder.embed_queries([query])[0])
        return self._last[1]

    def evidence(self, query: str, depth: int | None = None) -> Evidence:
        """Both rankings of ``query`` (``depth`` passages each, default ``candidates``), fused.
        A question in another language than the best passage by meaning is ranked by a keyword
        search with ``cross_fuzzy`` (when given) instead of ``fuzzy``; the figures the
        answer-or-not rule weighs still come from the search with ``fuzzy``, as it was measured."""
        depth = depth or self.candidates
        dense = [] if self.mode == "keyword" else self.store.search(self.query_vector(query), k=depth)
        index = self._keyword_index()
        if index is None:
            return self.combine(dense, [], 0.0, query=query)
        keyword = self.store.keyword_search(query, depth, fuzzy=self.fuzzy)  # type: ignore[attr-defined]
        fuzzy = self.fuzzy_for(query, dense)
        ranking = keyword if fuzzy is self.fuzzy else self.store.keyword_search(query, depth, fuzzy=fuzzy)  # type: ignore[attr-defined]
        return self.combine(dense, ranking, index.missing(query), query=query, figures=keyword)

    def fuzzy_for(self, query: str, dense: Sequence[Hit]) -> FuzzyMatch | None:
        """The fuzzy matching of ``query``'s keyword search: ``cross_fuzzy`` when it is asked in
        another language than the best of the ``dense`` hits (`is_cross_language`: its names
        and cognates are spelled alike there, not the same), else ``fuzzy``."""
        if self.cross_fuzzy is not None and dense and is_cross_language(query, dense[0].chunk):
            return self.cross_fuzzy
        return self.fuzzy

    def combine(
        self,
        dense: Sequence[Hit],
        keyword: Sequence[Hit],
        missing: float = 0.0,
        *,
        query: str | None = None,
        figures: Sequence[Hit] | None = None,
    ) -> Evidence:
        """The evidence of a dense ranking (cosines) and a keyword ranking (relative scores) of
        the same question, fused as this retriever fuses (also for passages outside the store:
        a conversation's own files). ``missing``: the share of the question's term weight no
        passage holds; ``query``, when given, tells whether it is asked in another language
        than the best passage (`is_cross_language`); ``figures``, when given, is the keyword
        ranking the answer-or-not figures are taken from (default: ``keyword``)."""
        figures = keyword if figures is None else figures
        if self.mode == "keyword":
            candidates = [Candidate(h.chunk, h.score, keyword=h.score, keyword_rank=i) for i, h in enumerate(keyword, 1)]
        else:
            kept = [h for h in keyword if h.score >= self.keyword_floor]
            if self.fusion == "rrf":
                candidates = fuse(dense, kept, rrf_k=self.rrf_k, keyword_weight=self.keyword_weight)
            else:
                candidates = fuse_scores(dense, kept, keyword_weight=self.keyword_weight)
        agree = bool(dense and figures and dense[0].chunk.id == figures[0].chunk.id)
        best = dense[0] if dense else (figures[0] if figures else None)
        cross = query is not None and best is not None and is_cross_language(query, best.chunk)
        return Evidence.of(candidates, [h.score for h in dense], [h.score for h in figures], agree, missing, cross,
                           [h.chunk.source for h in dense])  # fmt: skip

    def answers(self, evidence: Evidence, min_score: float | None = None) -> bool:
        """Whether the evidence is enough to answer (see the class)."""
        if not evidence.candidates:
            return False
        floor = self._min_score if min_score is None else min_score
        if self.mode == "keyword":
            return floor is None or evidence.top_keyword >= floor
        if floor is not None:
            return evidence.top_dense is not None and evidence.top_dense >= floor
        model = self.abstention
        if model is not None and evidence.dense_count >= self.candidates:
            return evidence.confidence(model) >= model.threshold
        # No measured model, or an index too small for its figures: the embedder's threshold.
        return evidence.top_dense is not None and evidence.top_dense >= self.min_score

    def retrieve(self, query: str, k: int | None = None, min_score: float | None = None) -> list[Hit]:
        """The best ``k`` passages, or none when the evidence is not enough to answer. Besides
        the first, a passage is returned only when its cosine reaches ``min_score`` (default: the
        embedder's threshold) or it holds at least `KEYWORD_SUPPORT` of the question's term
        weight, so a generator is not handed passages neither search supports."""
        if len(self.store) == 0:
            return []
        evidence = self.evidence(query, max(self.candidates, k or self.k))
        if not self.answers(evidence, min_score):
            return []
        return [Hit(chunk=c.chunk, score=c.fused) for c in self.supported(evidence, k or self.k, min_score)]

    def supported(self, evidence: Evidence, k: int, min_score: float | None = None) -> list[Candidate]:
        """The first ``k`` candidates that either search supports (see `retrieve`)."""
        if self.mode == "keyword":
            return evidence.candidates[:k]
        floor = self.min_score if min_score is None else min_score
        out = []
        for c in evidence.candidates:
            if len(out) == k:
                break
            if not out or (c.dense is not None and c.dense >= floor) or (c.keyword or 0.0) >= KEYWORD_SUPPORT:
                out.append(c)
        return out

    def _keyword_index(self):  # type: ignore[no-untyped-def]
        index = getattr(self.store, "keyword_index", None)
        if index is None or getattr(self.store, "keyword_search", None) is None:
            if not self._warned:
                self._warned = True
                log.warning("%s has no keyword index: questions are answered by meaning only", type(self.store).__name__)
            return None
        return index()
