"""Answer moments: the sentence(s) inside a passage that answer a question, with their times.

A passage is a minute of speech or so; the answer is usually one sentence of it. `SentenceScorer`
ranks sentences against a query (the question, or an answer to find the support of) by

- **coverage**: the share of the query's terms the sentence contains, each weighted by how rare
  it is among the sentences compared (so the name in a question counts more than "year");
- **phrase**: the share of the query's adjacent term pairs found adjacent in the sentence
  (an exact phrase such as "fire assembly point" beats the same words scattered);
- **similarity** (optional): the cosine between the query's and the sentence's embeddings, when
  the scorer is given an embedder;

- **rank** (among several passages): a small penalty per place down the retrieval ranking, so
  that of two sentences that match alike, the one of the better passage wins;

where a term is a word's crude stem (`mediarag.terms.stem`). A sentence that speech recognition
ran on past `ANSWER_WORDS` words is cut, for an answer or a moment, to the words around the
question's terms (`excerpt`: answers are usually next to the question's words); for what a model
reads (`focus`), past `MAX_WORDS` words to its best clauses (`trim`). The weights and limits are
those measured best on spoken XQuAD (``benchmarks/moments.py``; a length penalty and embedding
similarity did not help there). A moment takes in the sentence before or after its own when
that one scores close to the best (`NEIGHBOUR_RATIO`, within `MOMENT_SECONDS`, inside its passage;
optionally across a passage edge, `NEIGHBOUR_GAP`: benchmarks/results/moments-3.md).
`best_moment` picks the moment of one passage;
`choose_sentences` picks the answering sentences among several passages; `focus` cuts passages
down to what a model needs to read.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .links import is_text_source
from .schema import Chunk, Hit, Moment, Segment
from .sentences import join_texts, timed_sentences
from .terms import terms

#: Cosine similarities of a query with texts (e.g. an embedder's), for the optional similarity term.
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class SentenceChoice:
    """A sentence chosen as (part of) an answer: which passage, which of its sentences, score,
    and the neighbouring sentence its moment also takes in (``context``, see `choose_sentences`)."""

    passage: int
    sentence: int
    segment: Segment
    score: float
    context: Segment | None = None


@dataclass(frozen=True)
class SentenceScorer:
    """Scores sentences against a query: weighted term coverage, exact phrase overlap, optional
    embedding similarity, an optional length penalty, and optionally the passage's retrieval
    score (see the module). The defaults are the measured best."""

    coverage: float = 1.0
    phrase: float = 0.3
    similarity: float = 0.0
    passage: float = 0.0
    length_penalty: float = 0.0
    rank: float = 0.02
    embed: Similarity | None = None

    def term_weights(self, query: str, pool: Sequence[str]) -> dict[str, float]:
        """The weight of each of the query's terms: ``log(1 + n / f)`` of the ``n`` texts of
        ``pool``, ``f`` of which hold it (a term none holds weighs as if half of one did)."""
        sets = [set(terms(t)) for t in pool]
        frequency = Counter(w for s in sets for w in s)
        n = len(sets)
        return {w: math.log(1 + n / max(frequency[w], 0.5)) for w in dict.fromkeys(terms(query))}

    def score(
        self,
        query: str,
        texts: Sequence[str],
        passage_scores: Sequence[float] | None = None,
        *,
        pool: Sequence[str] | None = None,
        ranks: Sequence[int] | None = None,
    ) -> list[float]:
        """One score per text, higher is better (comparable within one call only). How rare a
        term is, is counted among ``pool`` (default: ``texts``); ``ranks``, when given, is the
        place of each text's passage in the retrieval ranking (0 for the best), weighed by
        ``rank``."""
        if not texts:
            return []
        query_terms = list(dict.fromkeys(terms(query)))
        bags = [terms(t) for t in texts]
        sets = [set(b) for b in bags]
        weight = self.term_weights(query, texts if pool is None else pool)
        total = sum(weight.values()) or 1.0
        pairs = set(zip(query_terms, query_terms[1:]))
        sims = list(self.embed(query, texts)) if self.embed is not None and self.similarity else [0.0] * len(texts)
        out = []
        for i, bag in enumerate(bags):
            covered = sum(weight[w] for w in query_terms if w in sets[i]) / total
            phrase = len(pairs & set(zip(bag, bag[1:]))) / len(pairs) if pairs else 0.0
            value = self.coverage * covered + self.phrase * phrase + self.similarity * float(sims[i])
            value -= self.length_penalty * len(bag)
            if passage_scores is not None:
                value += self.passage * float(passage_scores[i])
            if ranks is not None:
                value -= self.rank * ranks[i]
            out.append(value)
        return out


#: Sentences longer than this many words are cut to their best clauses for a model to read (`focus`).
MAX_WORDS = 40
#: Sentences longer than this many words are cut to the words around the question's terms for
#: an answer or a moment (`excerpt`): on spoken XQuAD, answers of 25 words on average.
ANSWER_WORDS = 36
#: The widest run of words `excerpt` looks for the question's terms in.
CLUSTER_WORDS = 25
#: The words `excerpt` keeps on either side of that run.
CONTEXT_WORDS = 10

#: A moment also takes in the sentence before or after its own when that one scores at least this
#: share of the best (relative to the worst candidate): the answer is often in the next sentence
#: ("He is the oldest quarterback ... The past record was held by John Elway ...").
NEIGHBOUR_RATIO = 0.3
#: ... as long as the moment stays within this many seconds. At 25 s the neighbour cost the
#: names-and-numbers logs (entries of 9 s) 3 points of moments inside the right entry (search) and
#: 7 (ask); at 15 s they are as without it, and spoken XQuAD keeps part of the gain (moment
#: overlaps the answer sentence 0.799, 0.812 at 25 s, 0.793 without; results/moments-3-cap15.md).
MOMENT_SECONDS = 15.0
#: With ``neighbour_gap`` set (off by default, so that a moment stays inside its passage), a
#: sentence of another retrieved passage of the same file counts as a neighbour when at most this
#: many seconds of silence lie between the two (the sentences either side of a passage edge): on
#: spoken XQuAD 2 points more moment overlap, with moments that run past their passage.
NEIGHBOUR_GAP = 1.5

#: The scorer mediarag uses when none is given.
DEFAULT_SCORER = SentenceScorer()


def moment_of(sentences: Sequence[Segment]) -> Moment:
    """The time span from the first to the last of ``sentences`` (in speaking order)."""
    return Moment(start=min(s.start for s in sentences), end=max(s.end for s in sentences))


def has_time(chunk: Chunk) -> bool:
    """Whether a passage has times to point at (text documents have none)."""
    return not is_text_source(chunk.source)


def choose_sentences(
    query: str,
    hits: Sequence[Hit],
    *,
    max_sentences: int = 1,
    relative_cutoff: float = 0.8,
    max_words: int | None = ANSWER_WORDS,
    scorer: SentenceScorer = DEFAULT_SCORER,
    neighbour_ratio: float | None = NEIGHBOUR_RATIO,
    moment_seconds: float = MOMENT_SECONDS,
    neighbour_gap: float | None = None,
) -> list[SentenceChoice]:
    """The sentences of ``hits`` that best answer ``query``, in speaking order (passage, then time).

    Every sentence of every passage competes (``hits`` best first: the scorer's ``rank`` breaks
    near ties for the better passage). The best-scoring sentence always; up to ``max_sentences``
    in all, each further one only when it scores at least ``relative_cutoff`` of the best
    (relative to the worst candidate). A chosen sentence longer than ``max_words`` (speech
    recognition often runs sentences together) is cut to the words around the question's terms
    (`excerpt`).

    Each choice's moment may take in one neighbouring sentence (``context``): the better scoring
    of the one before and the one after in its passage (with ``neighbour_gap`` set, also, at the
    passage's edge, a sentence of another of ``hits`` from the same file that starts or ends
    within ``neighbour_gap`` seconds of it, so the moment may run into that passage; default None:
    a moment stays inside its passage), when it scores at least
    ``neighbour_ratio`` of the best (relative to the worst candidate) and the moment stays within
    ``moment_seconds`` (None: never). The answer's words stay the chosen sentence's.
    """
    candidates = [(p, i, s) for p, hit in enumerate(hits) for i, s in enumerate(timed_sentences(hit.chunk))]
    if not candidates:
        return []
    texts = [s.text for _, _, s in candidates]
    passages = [p for p, _, _ in candidates]
    scores = scorer.score(query, texts, [hits[p].score for p in passages], ranks=passages)
    ranked = sorted(range(len(candidates)), key=lambda c: scores[c], reverse=True)
    best, floor = scores[ranked[0]], min(scores)
    keep, said = [ranked[0]], {_sentence_key(texts[ranked[0]])}  # a sentence is said once, even when two files hold it
    for c in ranked[1:]:
        if len(keep) == max_sentences or not (best > floor and (scores[c] - floor) >= relative_cutoff * (best - floor)):
            break
        if _sentence_key(texts[c]) not in said:
            said.add(_sentence_key(texts[c]))
            keep.append(c)
    chosen = []
    for c in keep:
        passage, index, sentence = candidates[c]
        if max_words is not None:
            sentence = excerpt(query, sentence, max_words, scorer=scorer, pool=texts)
        context = None
        if neighbour_ratio is not None and best > floor:
            near = [n for n in _neighbours(c, candidates, hits, neighbour_gap) if n not in keep
                    and scores[n] - floor >= neighbour_ratio * (best - floor)
                    and _span(sentence, candidates[n][2]) <= moment_seconds]  # fmt: skip
            if near:
                context = candidates[max(near, key=lambda n: scores[n])][2]
        chosen.append(SentenceChoice(passage, index, sentence, scores[c], context))
    return sorted(chosen, key=lambda c: (c.passage, c.segment.start))


def _neighbours(
    c: int, candidates: Sequence[tuple[int, int, Segment]], hits: Sequence[Hit], gap: float | None
) -> list[int]:
    """The candidates next to candidate ``c``: the sentences before and after it in its passage
    and, with ``gap``, the sentences of the same file's other passages within ``gap`` seconds."""
    passage, index, sentence = candidates[c]
    out = [n for n, (p, i, _) in enumerate(candidates) if p == passage and abs(i - index) == 1]
    if gap is not None:
        source = hits[passage].chunk.source
        out += [n for n, (p, _, other) in enumerate(candidates)
                if p != passage and hits[p].chunk.source == source and _adjacent(sentence, other, gap)]  # fmt: skip
    return out


def _adjacent(a: Segment, b: Segment, gap: float) -> bool:
    """Whether ``b`` starts within ``gap`` seconds after ``a`` ends, or ends within them before
    ``a`` starts."""
    return 0.0 <= b.start - a.end <= gap or 0.0 <= a.start - b.end <= gap


def _span(a: Segment, b: Segment) -> float:
    """Seconds from the first start to the last end of two segments."""
    return max(a.end, b.end) - min(a.start, b.start)


def _sentence_key(text: str) -> str:
    """A sentence's words, lower-cased, without punctuation: equal for the same sentence."""
    return " ".join(re.findall(r"\w+", text.lower())) or text.strip()


_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")
#: The fewest words of a clause `trim` keeps apart; shorter pieces join their neighbour.
MIN_CLAUSE_WORDS = 4


def clauses(sentence: Segment, min_words: int = MIN_CLAUSE_WORDS) -> list[Segment]:
    """A sentence cut after its commas, semicolons and colons into clauses of at least
    ``min_words`` words, each with times spread over the sentence by its length in characters
    (stored sentences have no word times)."""
    parts: list[str] = []
    for piece in _CLAUSE_END.split(sentence.text.strip()):
        if parts and len(parts[-1].split()) < min_words:
            parts[-1] += " " + piece
        elif piece:
            parts.append(piece)
    if len(parts) > 1 and len(parts[-1].split()) < min_words:
        parts[-2] += " " + parts.pop()
    total = sum(len(p) for p in parts) or 1
    span = sentence.end - sentence.start
    out, offset = [], 0
    for part in parts:
        start = sentence.start + span * offset / total
        offset += len(part)
        out.append(sentence.model_copy(update={"start": start, "end": sentence.start + span * offset / total, "text": part, "words": ()}))
    return out


def trim(
    query: str,
    sentence: Segment,
    max_words: int,
    *,
    scorer: SentenceScorer = DEFAULT_SCORER,
    pool: Sequence[str] | None = None,
) -> Segment:
    """``sentence`` itself when it has at most ``max_words`` words; else its run of consecutive
    clauses (`clauses`) within ``max_words`` that scores best for ``query`` (the longest of equal
    ones), with that run's times. A single clause longer than ``max_words`` stays whole."""
    if len(sentence.text.split()) <= max_words:
        return sentence
    parts = clauses(sentence)
    runs = []
    for i in range(len(parts)):
        for j in range(i, len(parts)):
            words = sum(len(p.text.split()) for p in parts[i : j + 1])
            if words > max_words and j > i:
                break
            runs.append((i, j, words))
    texts = [join_texts(p.text for p in parts[i : j + 1]) for i, j, _ in runs]
    scores = scorer.score(query, texts, pool=pool)
    best = max(range(len(runs)), key=lambda r: (round(scores[r], 9), runs[r][2]))
    i, j, _ = runs[best]
    return sentence.model_copy(update={"start": parts[i].start, "end": parts[j].end, "text": texts[best], "words": ()})


def excerpt(
    query: str,
    sentence: Segment,
    max_words: int = ANSWER_WORDS,
    *,
    cluster_words: int = CLUSTER_WORDS,
    context_words: int = CONTEXT_WORDS,
    scorer: SentenceScorer = DEFAULT_SCORER,
    pool: Sequence[str] | None = None,
) -> Segment:
    """``sentence`` itself when it has at most ``max_words`` words; else the words around the
    query's terms, with their times (spread over the sentence by length in characters).

    The run of at most ``cluster_words`` words, from one query term to another, whose terms weigh
    most (`SentenceScorer.term_weights` among ``pool``, default the sentence; the shortest of
    equal runs, the first of equal ones), and up to ``context_words`` words on either side (an
    answer usually stands next to the question's words), at most ``max_words`` in all, cut around
    the run's middle. Without any query term: the first ``max_words`` words.
    """
    spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", sentence.text)]
    if len(spans) <= max_words:
        return sentence
    weight = scorer.term_weights(query, [sentence.text] if pool is None else pool)
    words = [[t for t in terms(sentence.text[a:b]) if t in weight] for a, b in spans]
    matched = [i for i, ts in enumerate(words) if ts]
    best: tuple[float, int] | None = None
    first = last = 0
    for n, i in enumerate(matched):
        seen: set[str] = set()
        for j in matched[n:]:
            if j - i >= cluster_words:
                break
            seen.update(words[j])
            key = (round(sum(weight[t] for t in seen), 9), i - j)
            if best is None or key > best:
                best, first, last = key, i, j
    if best is None:
        start, end = 0, max_words
    else:
        start, end = max(0, first - context_words), min(len(spans), last + 1 + context_words)
        if end - start > max_words:
            start = max(0, min(start, (first + last) // 2 - max_words // 2))
            end = min(len(spans), start + max_words)
    length = len(sentence.text) or 1
    span = sentence.end - sentence.start
    a, b = spans[start][0], spans[end - 1][1]
    return sentence.model_copy(
        update={"start": sentence.start + span * a / length, "end": sentence.start + span * b / length,
                "text": sentence.text[a:b], "words": ()}
    )  # fmt: skip


def best_moment(
    query: str,
    hit: Hit,
    *,
    max_words: int | None = ANSWER_WORDS,
    scorer: SentenceScorer = DEFAULT_SCORER,
    neighbour_ratio: float | None = NEIGHBOUR_RATIO,
    moment_seconds: float = MOMENT_SECONDS,
) -> Moment | None:
    """The moment of one passage that best matches ``query``: its best sentence, cut to the
    words around the query's terms past ``max_words`` words (`excerpt`), with a neighbouring
    sentence that scores close, within ``moment_seconds`` (`choose_sentences`); None for a
    text document."""
    if not has_time(hit.chunk):
        return None
    chosen = choose_sentences(
        query, [hit], max_words=max_words, scorer=scorer, neighbour_ratio=neighbour_ratio, moment_seconds=moment_seconds
    )
    return moments_by_passage(chosen, [hit]).get(0)


def moments_by_passage(choices: Sequence[SentenceChoice], hits: Sequence[Hit]) -> dict[int, Moment]:
    """The moment of each passage from the sentences chosen in it and their neighbours
    (``context``; text documents left out)."""
    grouped: dict[int, list[Segment]] = {}
    for c in choices:
        grouped.setdefault(c.passage, []).append(c.segment)
        if c.context is not None:
            grouped[c.passage].append(c.context)
    return {p: moment_of(segs) for p, segs in grouped.items() if has_time(hits[p].chunk)}


@dataclass(frozen=True)
class Focused:
    """A passage cut down to the sentences a model should read, and its place in the passages
    it came from (``index``)."""

    index: int
    hit: Hit


def focus(
    query: str,
    hits: Sequence[Hit],
    *,
    sentences: int = 3,
    max_words: int | None = MAX_WORDS,
    scorer: SentenceScorer = DEFAULT_SCORER,
) -> list[Focused]:
    """What a model needs to read to answer ``query`` from ``hits``: the ``sentences`` best
    sentences of all the passages (scored together, as `choose_sentences` does; each cut to
    ``max_words``, `trim`), kept with their passage. Each passage that holds one comes back cut
    to its chosen sentences (its times, text and sentences theirs), in the order of its best
    sentence; the passages that hold none are left out."""
    candidates = [(p, s) for p, hit in enumerate(hits) for s in timed_sentences(hit.chunk)]
    if not candidates:
        return []
    texts = [s.text for _, s in candidates]
    scores = scorer.score(query, texts, [hits[p].score for p, _ in candidates])
    ranked = sorted(range(len(candidates)), key=lambda c: scores[c], reverse=True)[: max(1, sentences)]
    chosen: dict[int, list[Segment]] = {}
    for c in ranked:
        passage, sentence = candidates[c]
        if max_words is not None:
            sentence = trim(query, sentence, max_words, scorer=scorer, pool=texts)
        chosen.setdefault(passage, []).append(sentence)
    out = []
    for passage, run in chosen.items():
        run.sort(key=lambda s: s.start)
        chunk = hits[passage].chunk.model_copy(
            update={"start": run[0].start, "end": run[-1].end, "text": join_texts(s.text for s in run),
                    "original_text": None, "sentences": tuple(run)}
        )  # fmt: skip
        out.append(Focused(passage, Hit(chunk=chunk, score=hits[passage].score)))
    return out
