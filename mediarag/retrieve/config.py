"""`RetrievalConfig`: how passages are found, how many a question gets, and when to say
"I don't know"."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: How passages are found: by meaning and by words, fused (``hybrid``), or by one of them.
RetrievalMode = Literal["hybrid", "dense", "keyword"]


class RetrievalConfig(BaseModel):
    """Options of the retriever (`mediarag.retrieve.make_retriever`).

    ``Settings(retrieval="keyword")`` is short for ``Settings(retrieval={"mode": "keyword"})``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    mode: RetrievalMode = Field(
        "hybrid",
        description="'hybrid': passages found by meaning (the embedder) and by their words (the "
        "keyword index), fused; 'dense': by meaning only; 'keyword': by words only.",
    )
    k: int = Field(4, ge=1, description="Passages retrieved per question.")
    min_score: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity the best passage needs for the question to be answered "
        "(dense: every passage returned needs it); None: the embedder's own measured threshold "
        "(0.78 for multilingual-e5-small, 0.35 for MiniLM) in dense mode, and in hybrid mode the "
        "measured evidence rule (min_confidence) where the embedder has one. In keyword mode, "
        "the relative keyword score the best passage needs.",
    )
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Hybrid: the confidence (from the best passage's cosine, its keyword score "
        "and whether both searches agree) a question needs to be answered; None: the measured "
        "default of the embedder. Ignored when min_score is set.",
    )
    candidates: int = Field(
        50, ge=1, description="Hybrid: passages taken from each search before they are fused (the "
        "measured answer-or-not rule assumes 50).",
    )
    fusion: Literal["weighted", "rrf"] = Field(
        "weighted",
        description="Hybrid: 'weighted' ranks by cosine + keyword_weight x relative keyword score; "
        "'rrf' by reciprocal rank (1 / (rrf_k + rank) in each ranking).",
    )
    rrf_k: float = Field(5.0, gt=0.0, description="Hybrid, rrf: the constant of reciprocal-rank fusion.")
    keyword_weight: float | None = Field(
        None,
        ge=0.0,
        description="Hybrid: weight of the keyword side in the fusion; None: the measured one "
        "(0.15 for 'weighted', 0.5 for 'rrf', with multilingual-e5-small).",
    )
    keyword_floor: float = Field(
        0.0,
        ge=0.0,
        description="Hybrid: keyword hits whose relative score (about 1 when a passage holds each "
        "term of the question once) is below this are left out of the fusion.",
    )
    fuzzy: float = Field(
        0.8,
        ge=0.0,
        le=1.01,
        description="Keyword search: similarity (1 - edits / length) at which a question's word "
        "that no passage holds matches a passage's word spelled nearly alike (misheard names); "
        "above 1 switches fuzzy matching off.",
    )
    cross_fuzzy: float = Field(
        0.6,
        ge=0.0,
        le=1.01,
        description="Keyword search of a question in another language than the passages it is "
        "closest to by meaning: the fuzzy similarity for it (names and cognates are spelled "
        "alike across languages, 'university' / 'universidad'); measured on English questions "
        "over Spanish and German speech (benchmarks/results/hybrid-xlang.md).",
    )
