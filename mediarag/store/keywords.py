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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..schema import Chunk
from ..text.analysis import query_words
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


class _Group:
    """BM25 over the passages analyzed in one language (their own statistics)."""

    def __init__(self, language: str | None, terms: PassageTerms, rows: np.ndarray, k1: float, b: float) -> None:
        import bm25s

        self.language = language
        self.rows = rows  # positions of these passages in KeywordIndex.chunks
        self.vocab = {term: i for i, term in enumerate(terms.vocab)}
        self.long_terms = [t for t in terms.vocab if len(t) >= FUZZY_MIN_LENGTH and not t[0].isdigit()]
        self.df = np.bincount(terms.ids, minlength=len(self.vocab)) if self.vocab else np.zeros(0, np.int64)
        self.n = len(terms)
        self.bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        self.empty = not self.n or not self.vocab
        if not self.empty:
            docs = [
                np.repeat(terms.ids[lo:hi], terms.counts[lo:hi]).tolist()
                for lo, hi in zip(terms.indptr[:-1].tolist(), terms.indptr[1:].tolist())
            ]
            self.bm25.index((docs, dict(self.vocab)), show_progress=False)

    def idf(self, term: str) -> float:
        tid = self.vocab.get(term)
        df = int(self.df[tid]) if tid is not None else 0
        return float(np.log1p((self.n - df + 0.5) / (df + 0.5)))

    def similar(self, term: str, fuzzy: FuzzyMatch) -> list[tuple[str, float]]:
        if len(term) < FUZZY_MIN_LENGTH or term[0].isdigit() or fuzzy.min_similarity > 1 or not self.long_terms:
            return []
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        found = process.extract(
            term, self.long_terms, scorer=Levenshtein.normalized_similarity,
            score_cutoff=fuzzy.min_similarity, limit=fuzzy.limit,
        )  # fmt: skip
        return [(match, float(score)) for match, score, _ in found]

    def query(self, question: str, fuzzy: FuzzyMatch, indexed: set[str] = frozenset()) -> tuple[dict[int, float], float, float]:  # type: ignore[assignment]
        """The ids the question is searched with and their weights; the question's term weight
        (sum of idf) and the part of it held by terms no passage of the group holds. Words in
        ``indexed`` (held by passages of some group) are not matched fuzzily."""
        weights: dict[int, float] = {}
        total = absent = 0.0
        for word, terms in query_words(question, [self.language]).items():
            for term in terms:
                w = self.idf(term)
                total += w
                absent += w if term not in self.vocab else 0.0
            found = [self.vocab[t] for t in terms if t in self.vocab]
            for tid in found:
                weights[tid] = 1.0
            if found or word in indexed:  # the word is indexed somewhere: no look-alikes
                continue
            for term in terms:
                for match, similarity in self.similar(term, fuzzy):
                    tid = self.vocab[match]
                    if weights.get(tid) != 1.0:
                        weights[tid] = max(weights.get(tid, 0.0), fuzzy.weight * similarity)
        return weights, total, absent

    def scores(self, weights: dict[int, float]) -> np.ndarray:
        total = np.zeros(self.n, np.float32)
        if self.empty or not weights:
            return total
        exact = [tid for tid, w in weights.items() if w == 1.0]
        if exact:
            total += self.bm25.get_scores_from_ids(exact)
        for tid, weight in weights.items():
            if weight != 1.0:
                total += weight * self.bm25.get_scores_from_ids([tid])
        return total


class KeywordIndex:
    """BM25 over passages given as their terms (in segments' order), searched by question.

    Passages are grouped by the language they were analyzed in, and each group has its own
    statistics: a question meets each group's passages through its analysis in that language,
    and a handful of passages in another language (Whisper sometimes labels a sentence of Spanish
    as Latin) cannot outscore the rest through words that only their analysis leaves whole. Hits
    of all groups are ranked by their score relative to the question's term weight in their
    group.
    """

    def __init__(
        self,
        parts: Sequence[tuple[PassageTerms, Sequence[Chunk]]],
        *,
        languages: Sequence[str | None] | None = None,
        k1: float = BM25_K1,
        b: float = BM25_B,
    ) -> None:
        self.k1 = k1
        self.chunks: list[Chunk] = [c for _, chunks in parts for c in chunks]
        terms = PassageTerms.concat([t for t, _ in parts])
        # The language of each passage's analysis: given per passage, else its own.
        given = list(languages) if languages is not None and len(languages) == len(self.chunks) else None
        labels = given or [c.language for c in self.chunks]
        self.languages = sorted({lang for lang in labels if lang}) or [None]
        self._groups = []
        for language in dict.fromkeys(labels):
            rows = np.asarray([i for i, lang in enumerate(labels) if lang == language], np.int64)
            self._groups.append(_Group(language, _select(terms, rows), rows, k1, b))
        self.vocab = {t for g in self._groups for t in g.vocab}
        self._last: tuple[tuple[str, FuzzyMatch | None], list] | None = None

    def __len__(self) -> int:
        return len(self.chunks)

    def similar(self, term: str, fuzzy: FuzzyMatch | None = None) -> list[tuple[str, float]]:
        """The passages' terms spelled nearly like ``term``, best first (over all groups)."""
        found: dict[str, float] = {}
        for group in self._groups:
            for match, score in group.similar(term, fuzzy or FuzzyMatch()):
                found[match] = max(found.get(match, 0.0), score)
        return sorted(found.items(), key=lambda kv: -kv[1])[: (fuzzy or FuzzyMatch()).limit]

    def missing(self, question: str) -> float:
        """The share (0-1) of the question's term weight held by terms no passage holds (the
        mean over the language groups, weighted by their passages): high when the question names
        things the index never mentions."""
        shares = [(g.n, absent / total if total else 0.0) for g, (_, total, absent) in self._queries(question, None)]
        n = sum(w for w, _ in shares)
        return sum(w * x for w, x in shares) / n if n else 0.0

    def _queries(self, question: str, fuzzy: FuzzyMatch | None) -> list[tuple[_Group, tuple[dict[int, float], float, float]]]:
        """Each group with the question's query in it (the last question's are kept: the
        retriever asks for its hits and for `missing`)."""
        key = (question, fuzzy)
        if self._last is None or self._last[0] != key:
            words = query_words(question, self.languages)
            indexed = {w for w, terms in words.items() if any(t in g.vocab for g in self._groups for t in terms)}
            fuzz = fuzzy or FuzzyMatch(min_similarity=1.01)
            self._last = (key, [(g, g.query(question, fuzz, indexed)) for g in self._groups])
        return self._last[1]

    def search(self, question: str, k: int, fuzzy: FuzzyMatch | None = None) -> list[KeywordHit]:
        """The ``k`` passages with the highest relative BM25 score (above 0), best first."""
        fuzzy = fuzzy or FuzzyMatch()
        raw = np.zeros(len(self.chunks), np.float32)
        relative = np.zeros(len(self.chunks), np.float32)
        for group, (weights, total, _) in self._queries(question, fuzzy):
            scores = group.scores(weights)
            raw[group.rows] = scores
            # Lucene's BM25 gives a term held once at average length idf / (1 + k1): scaled to idf.
            relative[group.rows] = scores * (1.0 + self.k1) / (total or 1.0)
        if k <= 0 or not len(relative):
            return []
        k = min(k, len(relative))
        top = np.argpartition(-relative, k - 1)[:k]
        top = top[np.argsort(-relative[top], kind="stable")]
        return [KeywordHit(self.chunks[i], float(raw[i]), float(relative[i])) for i in top.tolist() if relative[i] > 0]


def _select(terms: PassageTerms, rows: np.ndarray) -> PassageTerms:
    """The passages ``rows`` of ``terms``, in that order, over the vocabulary they use."""
    if len(rows) == len(terms):
        return terms
    if not len(rows):
        return PassageTerms.empty()
    starts, ends = terms.indptr[rows], terms.indptr[rows + 1]
    lengths = ends - starts
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    picked = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
    used, ids = np.unique(terms.ids[picked], return_inverse=True)
    return PassageTerms(tuple(terms.vocab[i] for i in used.tolist()), indptr, ids.astype(np.int32),
                        terms.counts[picked], terms.analysis)  # fmt: skip
