"""The keyword index of a store: BM25 (``bm25s``) over the passages it serves, with fuzzy terms.

`KeywordIndex` is built in memory from the stored terms of every segment (`PassageTerms`),
over the passages the generation still serves (files replaced or removed are left out, as the
tombstones say) and those added since the last commit. The collection statistics BM25 needs
(passages holding each term, mean passage length) are therefore exact for what is served. The
store builds it on the first keyword search after a change, and keeps it until the next change.

A question's term that no passage holds, of at least `FUZZY_MIN_LENGTH` characters and not a
number, is matched to the passages' terms that are spelled nearly alike (`FuzzyMatch`): speech
recognition writes names as it hears them ("Lindqvist" heard as "lindquist", "Petrov" as
"petron"), so the exact name a user types is often in no transcript.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..schema import Chunk
from ..text.analysis import query_terms
from .terms import PassageTerms

#: BM25 parameters (Lucene's formula): term-frequency saturation and length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75
#: Shortest question term that is matched fuzzily (shorter words have too many look-alikes).
FUZZY_MIN_LENGTH = 5


@dataclass(frozen=True)
class FuzzyMatch:
    """How a question's term absent from the passages is matched to terms spelled nearly alike:
    normalized Levenshtein similarity (1 - edits / length of the longer) of at least
    ``min_similarity``, at most ``limit`` terms, each weighted by its similarity times
    ``weight``. ``min_similarity`` above 1 switches it off. The default, 0.8, allows one edit in
    five letters ("lindqvist" -> "lindquist", "petrov" -> "petron"), measured on misheard names
    (benchmarks/results/names_numbers.md)."""

    min_similarity: float = 0.8
    limit: int = 3
    weight: float = 0.8


@dataclass(frozen=True)
class KeywordHit:
    """A passage found by keyword: its BM25 score, and that score relative to the question's
    term weight (`KeywordIndex.weight`): about 1 when the passage holds every term of the
    question once at average length, about 0.5 when it holds half of the question's weight."""

    chunk: Chunk
    score: float
    relative: float


class KeywordIndex:
    """BM25 over passages given as their terms (in segments' order), searched by question."""

    def __init__(
        self,
        parts: Sequence[tuple[PassageTerms, Sequence[Chunk]]],
        *,
        languages: Iterable[str | None] = (),
        k1: float = BM25_K1,
        b: float = BM25_B,
    ) -> None:
        import bm25s

        self.chunks: list[Chunk] = [c for _, chunks in parts for c in chunks]
        self.languages = sorted({lang for lang in languages if lang}) or [None]
        terms = PassageTerms.concat([t for t, _ in parts])
        self.vocab = {term: i for i, term in enumerate(terms.vocab)}
        self._terms = list(terms.vocab)
        self._long = np.asarray([len(t) >= FUZZY_MIN_LENGTH and not t[0].isdigit() for t in self._terms], bool)
        self._long_terms = [t for t, keep in zip(self._terms, self._long) if keep]
        docs = [
            np.repeat(terms.ids[lo:hi], terms.counts[lo:hi]).tolist()
            for lo, hi in zip(terms.indptr[:-1].tolist(), terms.indptr[1:].tolist())
        ]
        self._df = np.bincount(terms.ids, minlength=len(self._terms)) if len(self._terms) else np.zeros(0, np.int64)
        self.k1 = k1
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        self._empty = not self.chunks or not self.vocab
        if not self._empty:
            self._bm25.index((docs, dict(self.vocab)), show_progress=False)

    def __len__(self) -> int:
        return len(self.chunks)

    def query(self, question: str, fuzzy: FuzzyMatch | None = None) -> dict[int, float]:
        """The vocabulary ids a question is searched with, each with its weight: its own terms
        (weight 1) and, for those no passage holds, their fuzzy matches."""
        fuzzy = fuzzy or FuzzyMatch()
        weights: dict[int, float] = {}
        for term in query_terms(question, self.languages):
            found = self.vocab.get(term)
            if found is not None:
                weights[found] = max(weights.get(found, 0.0), 1.0)
                continue
            for match, similarity in self.similar(term, fuzzy):
                tid = self.vocab[match]
                weights[tid] = max(weights.get(tid, 0.0), fuzzy.weight * similarity)
        return weights

    def similar(self, term: str, fuzzy: FuzzyMatch | None = None) -> list[tuple[str, float]]:
        """The passages' terms spelled nearly like ``term`` (absent from them), best first."""
        fuzzy = fuzzy or FuzzyMatch()
        if len(term) < FUZZY_MIN_LENGTH or term[0].isdigit() or fuzzy.min_similarity > 1 or not self._long_terms:
            return []
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        found = process.extract(
            term,
            self._long_terms,
            scorer=Levenshtein.normalized_similarity,
            score_cutoff=fuzzy.min_similarity,
            limit=fuzzy.limit,
        )
        return [(match, float(score)) for match, score, _ in found]

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency of a term (Lucene's); a term no passage holds
        weighs as much as the rarest possible."""
        tid = self.vocab.get(term)
        df = int(self._df[tid]) if tid is not None else 0
        n = len(self.chunks)
        return float(np.log1p((n - df + 0.5) / (df + 0.5)))

    def weight(self, question: str) -> float:
        """The question's term weight: the sum of its terms' `idf` (each term once)."""
        return sum(self.idf(t) for t in query_terms(question, self.languages))

    def missing(self, question: str) -> float:
        """The share (0-1) of the question's term weight held by terms no passage holds: high
        when the question names things the index never mentions."""
        terms = query_terms(question, self.languages)
        weights = [self.idf(t) for t in terms]
        total = sum(weights)
        return sum(w for t, w in zip(terms, weights) if t not in self.vocab) / total if total else 0.0

    def scores(self, question: str, fuzzy: FuzzyMatch | None = None) -> np.ndarray:
        """The BM25 score of every passage for ``question`` (0 where it holds none of its terms)."""
        total = np.zeros(len(self.chunks), np.float32)
        if self._empty:
            return total
        weights = self.query(question, fuzzy)
        exact = [tid for tid, w in weights.items() if w == 1.0]
        if exact:
            total += self._bm25.get_scores_from_ids(exact)
        for tid, weight in weights.items():
            if weight != 1.0:
                total += weight * self._bm25.get_scores_from_ids([tid])
        return total

    def search(self, question: str, k: int, fuzzy: FuzzyMatch | None = None) -> list[KeywordHit]:
        """The ``k`` passages with the highest BM25 score (above 0), best first."""
        scores = self.scores(question, fuzzy)
        if k <= 0 or not len(scores):
            return []
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        # Lucene's BM25 gives a term held once at average length idf / (1 + k1): scaled to idf.
        weight = (self.weight(question) or 1.0) / (1.0 + self.k1)
        return [KeywordHit(self.chunks[i], float(scores[i]), float(scores[i]) / weight) for i in top.tolist() if scores[i] > 0]
