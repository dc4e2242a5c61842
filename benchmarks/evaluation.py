"""Evaluation of timestamped retrieval and of extractive answers, for mediarag's benchmarks.

Written in the style of sentence-transformers' ``evaluation/`` package: one small base class,
`Evaluator`, and one subclass per metric. An evaluator is called on a `RetrievalRun` (what was
retrieved for each query, the gold evidence of each query, and what was indexed) and returns a
``{metric name: value}`` dict; `SequentialEvaluator` runs several and merges their dicts::

    run = RetrievalRun(rankings=[[RankedHit("a.ogg", 10, 40), ...], ...],
                       golds=[Gold("a.ogg", 30, 60), ...],
                       passages=indexed_spans, audio_seconds=3600)
    SequentialEvaluator([HitAtK(1), HitAtK(5), MRRAtK(10), MeanTemporalIoU(10),
                         PassagesPerHour()])(run)
    # {'hit@1': 0.41, 'hit@5': 0.77, 'mrr@10': 0.55, 'mean_tiou@10': 0.31,
    #  'passages_per_hour': 212.0}

Query-level metrics also give one value per query (`QueryEvaluator.per_query`), for bootstrap
confidence intervals and paired comparisons.

A retrieved passage *hits* the gold evidence when it comes from the gold file and its time span
overlaps the gold span by more than zero seconds (spans that only touch do not count).

The answer-level helpers at the end (`normalize_answer`, `exact_match`, `f1_score`) follow the
official SQuAD v1.1 evaluation script (lower case, no punctuation, no articles, single spaces),
extended to Spanish and German articles, and with numbers accepted as digits or as words
(0..9999 in English, Spanish and German; see `number_to_words` and `words_to_number`).

Only numpy is needed; nothing here loads a model.
"""

from __future__ import annotations

import re
import string
import unicodedata
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = [
    "Evaluator",
    "Gold",
    "HitAtK",
    "HitWithinSeconds",
    "MRRAtK",
    "MeanTemporalIoU",
    "PassagesPerHour",
    "QueryEvaluator",
    "RankedHit",
    "RetrievalRun",
    "SequentialEvaluator",
    "Span",
    "edit_distance",
    "exact_match",
    "f1_score",
    "first_hit_rank",
    "normalize_answer",
    "number_to_words",
    "overlap_seconds",
    "overlaps",
    "seconds_to_evidence",
    "temporal_iou",
    "word_error_rate",
    "words_to_number",
]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A time span ``[start, end]`` (seconds) of one media file."""

    source: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"span ends ({self.end}) before it starts ({self.start})")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class RankedHit(Span):
    """One retrieved passage: its file and time span, and its similarity score."""

    score: float = 0.0


@dataclass(frozen=True)
class Gold(Span):
    """The gold evidence of one query: the file and time span where its answer is spoken."""


@dataclass
class RetrievalRun:
    """Everything the retrieval evaluators look at.

    Args:
        rankings: for each query, the retrieved passages, best first.
        golds: for each query, its gold evidence (same order as ``rankings``).
        passages: every indexed passage (only `PassagesPerHour` reads it).
        audio_seconds: total length of the indexed audio (only `PassagesPerHour` reads it).
    """

    rankings: Sequence[Sequence[RankedHit]]
    golds: Sequence[Gold]
    passages: Sequence[Span] = field(default_factory=tuple)
    audio_seconds: float = 0.0

    def __post_init__(self) -> None:
        if len(self.rankings) != len(self.golds):
            raise ValueError(
                f"{len(self.rankings)} rankings but {len(self.golds)} golds: one of each per query"
            )


# ---------------------------------------------------------------------------------------------
# Span arithmetic
# ---------------------------------------------------------------------------------------------


def overlap_seconds(a: Span, b: Span) -> float:
    """Seconds shared by two spans (0 if they are in different files or do not meet)."""
    if a.source != b.source:
        return 0.0
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def overlaps(hit: Span, gold: Span) -> bool:
    """Whether ``hit`` is from the gold file and shares more than zero seconds with ``gold``."""
    return overlap_seconds(hit, gold) > 0.0


def temporal_iou(a: Span, b: Span) -> float:
    """Intersection over union of two time spans (0 for different files or no overlap)."""
    inter = overlap_seconds(a, b)
    if inter <= 0.0:
        return 0.0
    union = max(a.end, b.end) - min(a.start, b.start)
    return inter / union if union > 0 else 0.0


def first_hit_rank(ranking: Sequence[Span], gold: Span, k: int | None = None) -> int | None:
    """1-based rank of the first passage among the top ``k`` that overlaps ``gold``, else None."""
    for rank, hit in enumerate(ranking[:k] if k is not None else ranking, start=1):
        if overlaps(hit, gold):
            return rank
    return None


def seconds_to_evidence(ranking: Sequence[Span], gold: Span, k: int | None = None) -> float | None:
    """Seconds of retrieved audio played before the gold evidence is reached, or None.

    The top ``k`` passages are played in rank order, each from its start to its end; the answer
    is the playing time elapsed when the first overlap with ``gold`` begins (passages before it
    count whole, plus the part of the hitting passage before the gold span starts).
    """
    elapsed = 0.0
    for hit in ranking[:k] if k is not None else ranking:
        if overlaps(hit, gold):
            return elapsed + max(0.0, gold.start - hit.start)
        elapsed += hit.duration
    return None


# ---------------------------------------------------------------------------------------------
# Evaluators
# ---------------------------------------------------------------------------------------------


class Evaluator(ABC):
    """Base class: computes one or more named metrics over a `RetrievalRun`.

    Subclasses set `name` (the key of their main metric) and implement `compute`. Calling an
    evaluator returns ``compute(run)``, with every key prefixed by ``prefix`` when one is given.
    """

    #: Key of the main metric in the returned dict.
    name: str = "metric"

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    @abstractmethod
    def compute(self, run: RetrievalRun) -> dict[str, float]:
        """The metric values, by name."""

    def __call__(self, run: RetrievalRun) -> dict[str, float]:
        values = self.compute(run)
        return {f"{self.prefix}{key}": value for key, value in values.items()}

    @property
    def primary_metric(self) -> str:
        return f"{self.prefix}{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class QueryEvaluator(Evaluator):
    """An evaluator whose metric is the mean of one value per query (0 for no queries)."""

    @abstractmethod
    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        """The metric for one query."""

    def per_query(self, run: RetrievalRun) -> np.ndarray:
        """One value per query, in query order."""
        return np.array(
            [self.score_query(r, g) for r, g in zip(run.rankings, run.golds)], dtype=np.float64
        )

    def compute(self, run: RetrievalRun) -> dict[str, float]:
        values = self.per_query(run)
        return {self.name: float(values.mean()) if len(values) else 0.0}


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


class HitAtK(QueryEvaluator):
    """Share of queries with at least one hit among their top ``k`` passages.

    A hit is a passage from the gold file whose span overlaps the gold span (> 0 s).
    """

    def __init__(self, k: int = 5, prefix: str = "") -> None:
        super().__init__(prefix)
        self.k = _check_k(k)
        self.name = f"hit@{self.k}"

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        return 1.0 if first_hit_rank(ranking, gold, self.k) is not None else 0.0


class HitWithinSeconds(QueryEvaluator):
    """Share of queries whose gold evidence is reached within ``budget`` seconds of listening.

    The top ``k`` passages are played in rank order (see `seconds_to_evidence`). Unlike hit@k,
    this does not reward long passages for covering more of the file: every chunker gets the
    same listening budget.
    """

    def __init__(self, budget: float = 120.0, k: int = 10, prefix: str = "") -> None:
        super().__init__(prefix)
        if not budget > 0:
            raise ValueError(f"budget must be > 0 seconds, got {budget!r}")
        self.budget = float(budget)
        self.k = _check_k(k)
        self.name = f"hit@{self.budget:g}s"

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        t = seconds_to_evidence(ranking, gold, self.k)
        return 1.0 if t is not None and t < self.budget else 0.0


class MRRAtK(QueryEvaluator):
    """Mean reciprocal rank of the first hit among the top ``k`` passages (0 when none hits)."""

    def __init__(self, k: int = 10, prefix: str = "") -> None:
        super().__init__(prefix)
        self.k = _check_k(k)
        self.name = f"mrr@{self.k}"

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        rank = first_hit_rank(ranking, gold, self.k)
        return 1.0 / rank if rank is not None else 0.0


class MeanTemporalIoU(QueryEvaluator):
    """Mean temporal IoU between the gold span and the *best-ranked passage that overlaps it*.

    Definition used: for each query, take the first passage in rank order, among the top ``k``,
    that hits the gold evidence (same file, overlap > 0 s); the query's value is the
    intersection-over-union of that passage's span with the gold span. A query with no hit in
    its top ``k`` scores 0. (It is *not* the best IoU over all hits, nor the IoU of the top-1
    passage whatever it is.) It measures how well the cited span fits the evidence once the
    right place is found: too-long passages and too-short ones both score low.
    """

    def __init__(self, k: int = 10, prefix: str = "") -> None:
        super().__init__(prefix)
        self.k = _check_k(k)
        self.name = f"mean_tiou@{self.k}"

    def score_query(self, ranking: Sequence[RankedHit], gold: Gold) -> float:
        rank = first_hit_rank(ranking, gold, self.k)
        return temporal_iou(ranking[rank - 1], gold) if rank is not None else 0.0


class PassagesPerHour(Evaluator):
    """Indexed passages per hour of indexed audio (index size; fewer means coarser passages)."""

    name = "passages_per_hour"

    def compute(self, run: RetrievalRun) -> dict[str, float]:
        if run.audio_seconds <= 0:
            raise ValueError("PassagesPerHour needs audio_seconds > 0")
        return {self.name: len(run.passages) / (run.audio_seconds / 3600.0)}


class SequentialEvaluator(Evaluator):
    """Runs several evaluators and merges their results (the first one's metric is primary)."""

    def __init__(self, evaluators: Iterable[Evaluator], prefix: str = "") -> None:
        super().__init__(prefix)
        self.evaluators = list(evaluators)
        if not self.evaluators:
            raise ValueError("SequentialEvaluator needs at least one evaluator")
        self.name = self.evaluators[0].primary_metric

    def compute(self, run: RetrievalRun) -> dict[str, float]:
        merged: dict[str, float] = {}
        for evaluator in self.evaluators:
            for key, value in evaluator(run).items():
                if key in merged:
                    raise ValueError(f"two evaluators report {key!r}")
                merged[key] = value
        return merged


# ---------------------------------------------------------------------------------------------
# Numbers as words, 0..9999, in English, Spanish and German
# ---------------------------------------------------------------------------------------------

LANGUAGES = ("en", "es", "de")

_EN_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

_ES_ONES = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
    "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés "
    "veinticuatro veinticinco veintiséis veintisiete veintiocho veintinueve"
).split()
_ES_TENS = "_ _ veinte treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
_ES_HUNDREDS = (
    "_ ciento doscientos trescientos cuatrocientos quinientos seiscientos setecientos "
    "ochocientos novecientos"
).split()

_DE_ONES = (
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn "
    "fünfzehn sechzehn siebzehn achtzehn neunzehn"
).split()
_DE_TENS = "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig".split()


def _en(n: int) -> str:
    if n < 20:
        return _EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_ONES[hundreds]} hundred" + (f" {_en(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    return f"{_EN_ONES[thousands]} thousand" + (f" {_en(rest)}" if rest else "")


def _es(n: int) -> str:
    if n < 30:
        return _ES_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _ES_TENS[tens] + (f" y {_ES_ONES[ones]}" if ones else "")
    if n == 100:
        return "cien"
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ES_HUNDREDS[hundreds] + (f" {_es(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    head = "mil" if thousands == 1 else f"{_es(thousands)} mil"
    return head + (f" {_es(rest)}" if rest else "")


def _de(n: int) -> str:
    if n < 20:
        return _DE_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        if not ones:
            return _DE_TENS[tens]
        return ("ein" if ones == 1 else _DE_ONES[ones]) + "und" + _DE_TENS[tens]
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = ("ein" if hundreds == 1 else _DE_ONES[hundreds]) + "hundert"
        return head + (_de(rest) if rest else "")
    thousands, rest = divmod(n, 1000)
    head = ("ein" if thousands == 1 else _DE_ONES[thousands]) + "tausend"
    return head + (_de(rest) if rest else "")


_SPELLERS = {"en": _en, "es": _es, "de": _de}


def _check_language(language: str) -> str:
    if language not in _SPELLERS:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    return language


def number_to_words(n: int, language: str = "en") -> str:
    """``n`` (0..9999) written out in ``language`` ('en', 'es' or 'de'), in its usual form.

    English: ``2024`` -> ``two thousand twenty-four``; Spanish: ``dos mil veinticuatro``;
    German (one word): ``zweitausendvierundzwanzig``.
    """
    if int(n) != n or not 0 <= n <= 9999:
        raise ValueError(f"only whole numbers 0..9999 are spelled, got {n!r}")
    return _SPELLERS[_check_language(language)](int(n))


def _variants(n: int, language: str) -> set[str]:
    """Spellings of ``n`` that `words_to_number` accepts (lower case, hyphens as spaces)."""
    base = number_to_words(n, language).replace("-", " ")
    forms = {base}
    if language == "en":
        # British "and": "one hundred and five", "two thousand and six".
        words = base.split()
        if "hundred" in words and words[-1] != "hundred":
            i = words.index("hundred")
            forms.add(" ".join([*words[: i + 1], "and", *words[i + 1 :]]))
        elif "thousand" in words and words[-1] != "thousand":
            i = words.index("thousand")
            forms.add(" ".join([*words[: i + 1], "and", *words[i + 1 :]]))
    elif language == "es":
        more = set()
        for form in forms:
            # "veintiún"/"un"/"una" before nouns; the same without accents.
            more.add(re.sub(r"uno$", "un", form))
            more.add(re.sub(r"uno$", "una", form))
            more.add(re.sub(r"veintiuno$", "veintiún", form))
        forms |= {f for f in more if f != "un" and f != "una"}
        forms |= {_strip_accents(f) for f in forms}
    elif language == "de":
        if n == 1:
            forms.add("ein")
            forms.add("eine")
        if 100 <= n % 1000 < 200:  # "hundert" for "einhundert"
            forms.add(re.sub(r"(^|tausend)einhundert", r"\1hundert", base))
        if 1000 <= n < 2000:
            forms |= {re.sub(r"^eintausend", "tausend", f) for f in set(forms)}
        forms |= {f.replace("ß", "ss") for f in forms}
        forms |= {_strip_accents(f) for f in forms}
    return forms


@lru_cache(maxsize=None)
def _word_table(language: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for n in range(10_000):
        for form in _variants(n, language):
            table.setdefault(form, n)
    return table


def _strip_accents(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
    )


def words_to_number(text: str, language: str = "en") -> int | None:
    """The number (0..9999) that ``text`` spells in ``language``, or None.

    Case, hyphens and surrounding spaces are ignored; common variants are accepted ("one hundred
    and five", "veintiún", "hundertzwei", "dreissig").
    """
    key = " ".join(text.lower().replace("-", " ").split())
    return _word_table(_check_language(language)).get(key)


#: Standalone words that are articles first (SQuAD removes them), not the number one.
_ARTICLE_ONES = frozenset({"un", "una", "ein", "eine"})


def _max_words(language: str) -> int:
    return max(len(form.split()) for form in _word_table(language))


def numbers_to_digits(text: str, language: str = "en") -> str:
    """Replace number words (0..9999) in lower-cased ``text`` with digits, longest match first.

    ``text`` should already be lower case with hyphens as spaces. Thousands separators in
    digits are dropped too ("1,000" and "1.000" -> "1000").
    """
    table = _word_table(_check_language(language))
    text = re.sub(r"(?<![\d.,])(\d{1,3})((?:[.,]\d{3})+)(?![\d]|[.,]\d)", _join_thousands, text)
    tokens = text.split()
    out: list[str] = []
    i = 0
    longest = _max_words(language)
    while i < len(tokens):
        for size in range(min(longest, len(tokens) - i), 0, -1):
            phrase = " ".join(t.strip(_EDGE_PUNCT) for t in tokens[i : i + size])
            if size == 1 and phrase in _ARTICLE_ONES:
                continue
            value = table.get(phrase)
            if value is not None:
                trailing = tokens[i + size - 1][len(tokens[i + size - 1].rstrip(_EDGE_PUNCT)) :]
                out.append(f"{value}{trailing}")
                i += size
                break
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


_EDGE_PUNCT = string.punctuation + "¿¡«»“”‘’„"


def _join_thousands(match: re.Match[str]) -> str:
    return match.group(1) + re.sub(r"[.,]", "", match.group(2))


# ---------------------------------------------------------------------------------------------
# SQuAD-style answer comparison
# ---------------------------------------------------------------------------------------------

_ARTICLES = {
    "en": ("a", "an", "the"),
    "es": ("el", "la", "los", "las", "un", "una", "unos", "unas", "lo"),
    "de": (
        "der", "die", "das", "den", "dem", "des",
        "ein", "eine", "einen", "einem", "einer", "eines",
    ),
}  # fmt: skip
_PUNCT = set(string.punctuation) | set("¿¡«»“”‘’„–—…")


def normalize_answer(text: str, language: str = "en") -> str:
    """SQuAD v1.1 normalization, per language, with number words turned into digits.

    Lower case; hyphens become spaces; number words (0..9999) become digits and thousands
    separators go; punctuation is removed; the language's articles are removed; whitespace is
    collapsed. So "The twenty-one pilots." and "21 pilots" both give "21 pilots".
    """
    language = _check_language(language)
    text = text.lower().replace("-", " ").replace("\u2011", " ")
    text = numbers_to_digits(text, language)
    text = "".join(ch for ch in text if ch not in _PUNCT)
    articles = _ARTICLES[language]
    tokens = [t for t in text.split() if t not in articles]
    return " ".join(tokens)


def _truths(ground_truths: str | Iterable[str]) -> list[str]:
    truths = [ground_truths] if isinstance(ground_truths, str) else list(ground_truths)
    if not truths:
        raise ValueError("at least one ground-truth answer is needed")
    return truths


def exact_match(prediction: str, ground_truths: str | Iterable[str], language: str = "en") -> float:
    """1.0 if the normalized prediction equals any normalized ground truth, else 0.0."""
    pred = normalize_answer(prediction, language)
    return float(any(pred == normalize_answer(t, language) for t in _truths(ground_truths)))


def _f1(prediction: str, truth: str) -> float:
    pred_tokens, truth_tokens = prediction.split(), truth.split()
    if not pred_tokens or not truth_tokens:
        return float(pred_tokens == truth_tokens)
    common = Counter(pred_tokens) & Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(truth_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, ground_truths: str | Iterable[str], language: str = "en") -> float:
    """SQuAD token F1 between the normalized prediction and the best-matching ground truth."""
    pred = normalize_answer(prediction, language)
    return max(_f1(pred, normalize_answer(t, language)) for t in _truths(ground_truths))


def edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (substitutions, insertions, deletions).

    One numpy row per reference token: the insertion chain within a row is a running minimum,
    ``row[j] = min_k(candidate[k] + j - k)``, so long transcripts take milliseconds.
    """
    hyp = {t: i for i, t in enumerate(dict.fromkeys(hypothesis))}
    h = np.array([hyp[t] for t in hypothesis], dtype=np.int64)
    n = len(h)
    steps = np.arange(n + 1, dtype=np.int64)
    row = steps.copy()
    for token in reference:
        code = hyp.get(token, -1)
        candidate = np.empty(n + 1, dtype=np.int64)
        candidate[0] = row[0] + 1  # delete the reference token
        candidate[1:] = np.minimum(row[1:] + 1, row[:-1] + (h != code))
        row = np.minimum.accumulate(candidate - steps) + steps
    return int(row[-1])


def word_error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    """WER of ``hypothesis`` against ``reference``, both normalized with `normalize_answer`.

    Normalization (lower case, no punctuation or articles, numbers as digits) keeps spelling
    conventions (``3`` vs ``three``) from counting as errors. An empty reference gives 0 for an
    empty hypothesis and 1 otherwise.
    """
    ref = normalize_answer(reference, language).split()
    hyp = normalize_answer(hypothesis, language).split()
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
