"""Hybrid retrieval: passages found by meaning and by their words, fused, and an "I don't know"
decided from both.

The dense side (the embedder's vectors) finds passages that say the same thing in other words
or in another language; the keyword side (`mediarag.store.FaissStore.keyword_search`) finds the
passages that hold the question's names, numbers, codes and rare words, which meaning alone
cannot tell apart. The two rankings are fused by reciprocal rank (`fuse`): a passage's fused
score is ``sum(weight / (rrf_k + rank))`` over the rankings it is in.

Whether the question is answered at all is decided from the `Evidence`: the best passage's
cosine, the best keyword score (relative to the question's term weight) and whether both
searches put the same passage first, combined by a logistic model measured on spoken XQuAD
(`ABSTENTION`, per embedder; benchmarks/hybrid.py) and compared with ``min_confidence``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..schema import Chunk, Hit
from .config import RetrievalMode

if TYPE_CHECKING:
    import numpy as np

    from ..embed.base import Embedder
    from ..store.base import VectorStore
    from ..store.keywords import FuzzyMatch

log = logging.getLogger("mediarag.retrieve")


@dataclass(frozen=True)
class Candidate:
    """A passage from either search: its cosine and rank in the dense ranking, its relative
    keyword score and rank in the keyword ranking (None where it is not in one), and its fused
    score (1.0 = first in both)."""

    chunk: Chunk
    fused: float
    dense: float | None = None
    dense_rank: int | None = None
    keyword: float | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class AbstentionModel:
    """``confidence = 1 / (1 + exp(-(intercept + dense * top_dense + keyword * top_keyword +
    agreement * agree)))``; a question is answered when it reaches ``threshold``."""

    intercept: float
    dense: float
    keyword: float
    agreement: float
    threshold: float

    def confidence(self, top_dense: float, top_keyword: float, agree: bool) -> float:
        z = self.intercept + self.dense * top_dense + self.keyword * top_keyword + self.agreement * float(agree)
        return 1.0 / (1.0 + math.exp(-z))


#: Measured abstention models, by embedder name (benchmarks/results/hybrid.md).
ABSTENTION: dict[str, AbstentionModel] = {}


@dataclass(frozen=True)
class Evidence:
    """What both searches found for a question: the fused candidates (best first) and the
    figures the answer-or-not decision rests on."""

    candidates: list[Candidate]
    top_dense: float | None
    top_keyword: float
    agree: bool

    def confidence(self, model: AbstentionModel) -> float:
        """The model's confidence that the best candidate answers the question."""
        return model.confidence(self.top_dense if self.top_dense is not None else -1.0, self.top_keyword, self.agree)


def fuse(
    dense: Sequence[Hit], keyword: Sequence[Hit], *, rrf_k: float = 60.0, keyword_weight: float = 1.0
) -> list[Candidate]:
    """Reciprocal-rank fusion of a dense and a keyword ranking (best first), scaled so that a
    passage first in both scores 1.0."""
    found: dict[str, dict] = {}
    for rank, hit in enumerate(dense, 1):
        found.setdefault(hit.chunk.id, {"chunk": hit.chunk})
        found[hit.chunk.id].update(dense=hit.score, dense_rank=rank)
    for rank, hit in enumerate(keyword, 1):
        found.setdefault(hit.chunk.id, {"chunk": hit.chunk})
        found[hit.chunk.id].update(keyword=hit.score, keyword_rank=rank)
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


class HybridRetriever:
    """Finds passages by meaning and by words (`mode` ``hybrid``), or by words only (``keyword``),
    in a store that has a keyword index (`mediarag.store.FaissStore`; a store without one is
    searched by meaning only, with a warning).

    Hits come best first; their ``score`` is the fused score (1.0 = first in both rankings) in
    hybrid mode and the relative keyword score in keyword mode. ``min_score``, when given, keeps
    its dense meaning: the question is answered only when the best passage's cosine reaches it.
    Otherwise hybrid mode answers when the `Evidence` reaches ``min_confidence`` under the
    embedder's measured `AbstentionModel` (where it has none: when the best cosine reaches the
    embedder's ``min_score``), and keyword mode when some passage holds a term of the question.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        k: int = 4,
        min_score: float | None = None,
        *,
        mode: RetrievalMode = "hybrid",
        candidates: int = 50,
        rrf_k: float = 60.0,
        keyword_weight: float = 1.0,
        keyword_floor: float = 0.0,
        min_confidence: float | None = None,
        fuzzy: FuzzyMatch | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.k = k
        self.mode = mode
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.keyword_weight = keyword_weight
        self.keyword_floor = keyword_floor
        self.fuzzy = fuzzy
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
        return AbstentionModel(model.intercept, model.dense, model.keyword, model.agreement, self._min_confidence)

    def warm_up(self) -> None:
        if self.mode != "keyword":
            self.embedder.warm_up()

    def query_vector(self, query: str) -> np.ndarray:
        """The query's embedding (the last one is kept for a conversation's own files)."""
        if self._last is None or self._last[0] != query:
            self._last = (query, self.embedder.embed_queries([query])[0])
        return self._last[1]

    def evidence(self, query: str, depth: int | None = None) -> Evidence:
        """Both rankings of ``query`` (``depth`` passages each, default ``candidates``), fused."""
        depth = depth or self.candidates
        dense = [] if self.mode == "keyword" else self.store.search(self.query_vector(query), k=depth)
        return self.combine(dense, self._keyword(query, depth))

    def combine(self, dense: Sequence[Hit], keyword: Sequence[Hit]) -> Evidence:
        """The evidence of a dense ranking (cosines) and a keyword ranking (relative scores) of
        the same question, fused as this retriever fuses (also for passages outside the store:
        a conversation's own files)."""
        if self.mode == "keyword":
            candidates = [Candidate(h.chunk, h.score, keyword=h.score, keyword_rank=i) for i, h in enumerate(keyword, 1)]
        else:
            kept = [h for h in keyword if h.score >= self.keyword_floor]
            candidates = fuse(dense, kept, rrf_k=self.rrf_k, keyword_weight=self.keyword_weight)
        agree = bool(dense and keyword and dense[0].chunk.id == keyword[0].chunk.id)
        return Evidence(candidates, dense[0].score if dense else None, keyword[0].score if keyword else 0.0, agree)

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
        if model is not None:
            return evidence.confidence(model) >= model.threshold
        return evidence.top_dense is not None and evidence.top_dense >= self.min_score

    def retrieve(self, query: str, k: int | None = None, min_score: float | None = None) -> list[Hit]:
        if len(self.store) == 0:
            return []
        evidence = self.evidence(query, max(self.candidates, k or self.k))
        if not self.answers(evidence, min_score):
            return []
        return [Hit(chunk=c.chunk, score=c.fused) for c in evidence.candidates[: k or self.k]]

    def _keyword(self, query: str, depth: int) -> list[Hit]:
        search = getattr(self.store, "keyword_search", None)
        if search is None:
            if not self._warned:
                self._warned = True
                log.warning("%s has no keyword index: questions are answered by meaning only", type(self.store).__name__)
            return []
        return search(query, depth, fuzzy=self.fuzzy)
