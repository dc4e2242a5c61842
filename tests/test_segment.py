"""Tests of the segmenters: semantic (cosine minima), recursive character and fixed window."""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediarag.embed import SentenceTransformerEmbedder
from mediarag.errors import ConfigError
from mediarag.schema import Segment, Word
from mediarag.segment import (
    CosineMinimaSegmenter,
    FixedWindowSegmenter,
    RecursiveCharacterSegmenter,
    Segmenter,
)
from mediarag.sentences import join_texts

FAST = settings(max_examples=50, deadline=None)


class HashingEmbedder:
    """A deterministic stand-in for a model: each word hashes to one of 64 dimensions."""

    name = "hashing-test"
    dimension = 64

    def warm_up(self) -> None:
        pass

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    embed_queries = _embed
    embed_passages = _embed


# -- strategies ------------------------------------------------------------------------------

VOCAB = [
    "bread", "flour", "oven", "bake", "dough", "planet", "star", "orbit", "galaxy", "moon",
    "the", "a", "is", "and", "of", "tea", "cup", "rain", "cloud", "storm", "東京", "天気",
]

word_text = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8).map(" ".join)
latin_text = st.lists(st.sampled_from(VOCAB[:-2]), min_size=1, max_size=8).map(" ".join)
any_text = st.one_of(word_text, st.text(max_size=30))


@st.composite
def sentences(draw, text=word_text, min_size=0, max_size=30, overlapping=True, languages=True):
    """Sentences in order of start time; with ``overlapping`` their spans may overlap."""
    n = draw(st.integers(min_size, max_size))
    t = draw(st.floats(0, 50))
    out = []
    for _ in range(n):
        if out:
            t += draw(st.floats(0.0, 8.0))
        start = t
        end = start + draw(st.floats(0.0, 12.0))
        lang = draw(st.sampled_from(["en", "de", None])) if languages else None
        out.append(Segment(start=start, end=end, text=draw(text), language=lang))
        if not overlapping:
            t = end
    return out


def squash(texts: Sequence[str]) -> str:
    return re.sub(r"\s+", "", "".join(texts))


def assert_passage_shape(passages: list[Segment]) -> None:
    starts = [p.start for p in passages]
    assert starts == sorted(starts)
    assert all(p.start <= p.end for p in passages)
    assert all(p.words == () for p in passages)


def assert_partition(groups: list[list[int]], n: int) -> None:
    assert [i for g in groups for i in g] == list(range(n))
    assert all(g for g in groups)


# -- protocol and validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "segmenter",
    [
        CosineMinimaSegmenter(HashingEmbedder()),
        RecursiveCharacterSegmenter(),
        FixedWindowSegmenter(),
    ],
)
def test_protocol_and_empty_input(segmenter: Segmenter) -> None:
    assert isinstance(segmenter, Segmenter)
    segmenter.warm_up()
    assert segmenter.split([]) == []


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: CosineMinimaSegmenter(p_size=0), "p_size"),
        (lambda: CosineMinimaSegmenter(order=0), "order"),
        (lambda: CosineMinimaSegmenter(min_duration=10, max_duration=5), "max_duration"),
        (lambda: CosineMinimaSegmenter(min_chars=100, max_chars=50), "max_chars"),
        (lambda: CosineMinimaSegmenter(min_duration=-1), "min_duration"),
        (lambda: RecursiveCharacterSegmenter(chunk_size=0), "chunk_size"),
        (lambda: RecursiveCharacterSegmenter(chunk_size=10, chunk_overlap=10), "chunk_overlap"),
        (lambda: RecursiveCharacterSegmenter(chunk_overlap=-1), "chunk_overlap"),
        (lambda: RecursiveCharacterSegmenter(separators=()), "separators"),
        (lambda: FixedWindowSegmenter(window=0), "window"),
        (lambda: FixedWindowSegmenter(window=10, overlap=10), "overlap"),
        (lambda: FixedWindowSegmenter(overlap=-1), "overlap"),
    ],
)
def test_invalid_settings_raise_config_error(make, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        make()


def test_join_leaves_no_space_next_to_cjk() -> None:
    joined = join_texts([" Hello.", "world ", "今天", "天气很好。", "OK", ""])
    assert joined == "Hello. world今天天气很好。OK"


# -- semantic ----------------------------------------------------------------------------------


@FAST
@given(
    sents=sentences(text=any_text),
    p_size=st.integers(1, 12),
    order=st.integers(1, 6),
)
def test_semantic_partitions_sentences(sents: list[Segment], p_size: int, order: int) -> None:
    seg = CosineMinimaSegmenter(HashingEmbedder(), p_size=p_size, order=order)
    groups = seg.split_indices(sents)
    passages = seg.split(sents)
    assert_partition(groups, len(sents))
    assert len(passages) == len(groups)
    assert_passage_shape(passages)
    assert squash(p.text for p in passages) == squash(s.text for s in sents)
    for group, passage in zip(groups, passages):
        assert passage.start == min(sents[i].start for i in group)
        assert passage.end == max(sents[i].end for i in group)
        assert passage.text == join_texts(sents[i].text for i in group)


@FAST
@given(
    sents=sentences(min_size=1),
    max_duration=st.floats(5, 60),
    max_chars=st.integers(20, 200),
    min_chars=st.integers(0, 60),
    min_duration=st.floats(0, 10),
)
def test_semantic_respects_limits(
    sents: list[Segment], max_duration: float, max_chars: int, min_chars: int, min_duration: float
) -> None:
    seg = CosineMinimaSegmenter(
        HashingEmbedder(),
        p_size=4,
        order=1,
        min_duration=min(min_duration, max_duration),
        max_duration=max_duration,
        min_chars=min(min_chars, max_chars),
        max_chars=max_chars,
    )
    groups = seg.split_indices(sents)
    assert_partition(groups, len(sents))

    def span(lo: int, hi: int) -> tuple[float, int]:
        part = sents[lo:hi]
        duration = max(s.end for s in part) - min(s.start for s in part)
        return duration, len(join_texts(s.text for s in part))

    def fits(lo: int, hi: int) -> bool:
        duration, chars = span(lo, hi)
        return duration <= seg.max_duration and chars <= seg.max_chars

    runs = [(g[0], g[-1] + 1) for g in groups]
    for k, (lo, hi) in enumerate(runs):
        assert hi - lo == 1 or fits(lo, hi)  # only a lone sentence may exceed a maximum
        duration, chars = span(lo, hi)
        if duration < seg.min_duration or chars < seg.min_chars:
            # Too short only when merging with either neighbour would break a maximum.
            if k > 0:
                assert not fits(runs[k - 1][0], hi)
            if k + 1 < len(runs):
                assert not fits(lo, runs[k + 1][1])


def test_semantic_accepts_precomputed_vectors() -> None:
    sents = [Segment(start=i, end=i + 1, text=t) for i, t in enumerate(VOCAB)]
    embedder = HashingEmbedder()
    seg = CosineMinimaSegmenter(embedder, p_size=3, order=1)
    vectors = embedder.embed_passages([s.text for s in sents])
    assert seg.split(sents, vectors=vectors) == seg.split(sents)
    with pytest.raises(ConfigError, match="vectors"):
        seg.split(sents, vectors=vectors[:-1])


def test_semantic_passage_metadata() -> None:
    sents = [
        Segment(start=0, end=1, text="Hallo.", language="de", original_text="Hallo."),
        Segment(start=1, end=2, text="Hello.", language="en"),
        Segment(start=2, end=3, text="Hi.", language="en"),
    ]
    (passage,) = CosineMinimaSegmenter(HashingEmbedder(), order=5).split(sents)
    assert passage.language == "en"
    assert passage.original_text == "Hallo. Hello. Hi."
    assert passage.text == "Hallo. Hello. Hi."


COOKING = [
    "Preheat the oven and mix flour, butter and sugar in a bowl.",
    "Add two eggs to the batter and stir the cake mixture well.",
    "Pour the cake batter into a greased baking tin.",
    "Bake the cake in the oven for forty minutes.",
    "Let the cake cool before you spread the chocolate icing.",
    "Cut the cake into slices and serve it with cream.",
]
ASTRONOMY = [
    "Jupiter is the largest planet in our solar system.",
    "Saturn is a gas giant planet surrounded by bright rings.",
    "Astronomers use telescopes to observe distant planets and stars.",
    "Mars is a small rocky planet with a thin atmosphere.",
    "The planets of the solar system orbit the Sun.",
    "Neptune is the most distant planet from the Sun.",
]


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder()
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="module")
def topic_sentences() -> list[Segment]:
    texts = COOKING + ASTRONOMY
    return [Segment(start=2.5 + 4 * i, end=5.5 + 4 * i, text=t) for i, t in enumerate(texts)]


def test_semantic_real_model_splits_at_topic_change(model, topic_sentences) -> None:
    seg = CosineMinimaSegmenter(model)
    groups = seg.split_indices(topic_sentences)
    assert_partition(groups, len(topic_sentences))
    boundaries = [g[0] for g in groups[1:]]
    assert any(abs(b - len(COOKING)) <= 1 for b in boundaries), groups
    # No boundary inside either topic, far from the change.
    assert all(abs(b - len(COOKING)) <= 1 for b in boundaries), groups


def test_semantic_first_passage_starts_with_first_sentence(model, topic_sentences) -> None:
    # The AWS sample set a passage's start to the end of its first chunk; ours must not.
    passages = CosineMinimaSegmenter(model).split(topic_sentences)
    assert passages[0].start == topic_sentences[0].start == 2.5
    assert passages[-1].end == topic_sentences[-1].end
    assert len(passages) >= 2
    ends = {s.end for s in topic_sentences}
    starts = {s.start for s in topic_sentences}
    assert all(p.start in starts and p.end in ends for p in passages)


def test_semantic_real_model_limits(model, topic_sentences) -> None:
    vectors = model.embed_passages([s.text for s in topic_sentences])
    short = CosineMinimaSegmenter(model, max_duration=10.0).split(topic_sentences, vectors)
    assert len(short) >= 4
    assert all(p.duration <= 10.0 for p in short)
    assert squash(p.text for p in short) == squash(s.text for s in topic_sentences)

    big = CosineMinimaSegmenter(model, p_size=3, order=1, min_chars=150).split(
        topic_sentences, vectors
    )
    assert all(len(p.text) >= 150 for p in big)
    assert squash(p.text for p in big) == squash(s.text for s in topic_sentences)


# -- recursive character -------------------------------------------------------------------------


@FAST
@given(
    sents=sentences(text=any_text, overlapping=False),
    chunk_size=st.integers(1, 120),
    keep=st.sampled_from(["start", "end"]),
)
def test_recursive_keeps_all_text(sents: list[Segment], chunk_size: int, keep: str) -> None:
    seg = RecursiveCharacterSegmenter(chunk_size=chunk_size, keep_separator=keep)
    passages = seg.split(sents)
    assert_passage_shape(passages)
    assert squash(p.text for p in passages) == squash(s.text for s in sents)
    if passages:
        assert passages[0].start >= sents[0].start
        assert passages[-1].end <= max(s.end for s in sents)


@FAST
@given(
    sents=sentences(text=latin_text, overlapping=False),
    chunk_size=st.integers(20, 150),
    overlap=st.integers(0, 19),
)
def test_recursive_words_in_order_and_sizes(
    sents: list[Segment], chunk_size: int, overlap: int
) -> None:
    seg = RecursiveCharacterSegmenter(chunk_size=chunk_size, chunk_overlap=overlap)
    passages = seg.split(sents)
    assert_passage_shape(passages)
    assert all(len(p.text) <= chunk_size for p in passages)
    words = " ".join(s.text for s in sents).split()
    if overlap == 0:
        assert " ".join(p.text for p in passages).split() == words
    else:  # every word appears, and the chunks' words are runs of the text's words
        joined = join_texts(s.text for s in sents)
        assert all(p.text in joined for p in passages)
        assert set(" ".join(p.text for p in passages).split()) == set(words)


def test_recursive_uses_word_times() -> None:
    words = (
        Word(start=10.0, end=10.4, text=" Alpha"),
        Word(start=10.5, end=11.0, text=" beta"),
        Word(start=11.2, end=11.9, text=" gamma"),
        Word(start=12.0, end=12.6, text=" delta."),
    )
    sents = [Segment(start=10.0, end=13.0, text=" Alpha beta gamma delta.", words=words)]
    passages = RecursiveCharacterSegmenter(chunk_size=12).split(sents)
    assert [p.text for p in passages] == ["Alpha beta", "gamma delta."]
    assert [(p.start, p.end) for p in passages] == [(10.0, 11.0), (11.2, 12.6)]


def test_recursive_interpolates_without_words() -> None:
    sents = [
        Segment(start=0.0, end=10.0, text="aaaa bbbb cccc dddd", language="en"),
        Segment(start=20.0, end=30.0, text="Eeee ffff.", language="de", original_text="E f."),
    ]
    passages = RecursiveCharacterSegmenter(chunk_size=10).split(sents)
    assert [p.text for p in passages] == ["aaaa bbbb", "cccc dddd", "Eeee ffff."]
    assert passages[0].start == 0.0
    assert passages[0].end == pytest.approx(10.0 * 9 / 19)
    assert passages[1].start == pytest.approx(10.0 * 10 / 19)
    assert passages[1].end == pytest.approx(10.0)
    assert (passages[2].start, passages[2].end) == (20.0, 30.0)
    assert [p.language for p in passages] == ["en", "en", "de"]
    assert passages[2].original_text == "E f."
    assert passages[0].original_text is None


def test_recursive_overlap_and_sentence_breaks() -> None:
    sents = [Segment(start=i, end=i + 1, text=f"Sentence number {i}.") for i in range(6)]
    chunks = RecursiveCharacterSegmenter(chunk_size=45).split(sents)
    assert [c.text for c in chunks] == [
        "Sentence number 0. Sentence number 1.",
        "Sentence number 2. Sentence number 3.",
        "Sentence number 4. Sentence number 5.",
    ]
    assert [(c.start, c.end) for c in chunks] == [(0, 2), (2, 4), (4, 6)]
    overlapping = RecursiveCharacterSegmenter(chunk_size=20, chunk_overlap=10, separators=[" "])
    texts = overlapping.split_text("one two three four five six seven")
    assert texts == ["one two three four", "four five six seven"]  # as LangChain gives


# -- fixed window --------------------------------------------------------------------------------


@FAST
@given(sents=sentences(), window=st.floats(0.5, 60))
def test_window_without_overlap_partitions(sents: list[Segment], window: float) -> None:
    seg = FixedWindowSegmenter(window=window, overlap=0.0)
    groups = seg.split_indices(sents)
    passages = seg.split(sents)
    assert sorted(i for g in groups for i in g) == list(range(len(sents)))
    assert_passage_shape(passages)
    assert squash(p.text for p in passages) == squash(s.text for s in sents)
    for group in groups:
        keys = {int(sents[i].start // window) for i in group}
        assert len(keys) <= 2  # one window (two only when float rounding straddles a border)


@FAST
@given(sents=sentences(), window=st.floats(1, 60), fraction=st.floats(0, 0.95))
def test_window_with_overlap_covers_every_sentence(
    sents: list[Segment], window: float, fraction: float
) -> None:
    seg = FixedWindowSegmenter(window=window, overlap=window * fraction)
    groups = seg.split_indices(sents)
    passages = seg.split(sents)
    assert_passage_shape(passages)
    assert {i for g in groups for i in g} == set(range(len(sents)))
    assert all(not set(a) <= set(b) and not set(b) <= set(a) for a, b in zip(groups, groups[1:]))


def test_window_example() -> None:
    times = [(0, 4), (5, 9), (10, 14), (21, 29), (31, 33), (70, 75)]
    sents = [Segment(start=a, end=b, text=f"s{k}") for k, (a, b) in enumerate(times)]
    plain = FixedWindowSegmenter(window=20.0, overlap=0.0).split_indices(sents)
    assert plain == [[0, 1, 2], [3, 4], [5]]
    shifted = FixedWindowSegmenter(window=20.0, overlap=10.0)
    assert shifted.split_indices(sents) == [[0, 1, 2], [2, 3], [3, 4], [5]]
    passages = shifted.split(sents)
    assert [(p.start, p.end, p.text) for p in passages][1] == (10, 29, "s2 s3")


def test_activation_matches_matrix_form() -> None:
    from mediarag.segment.semantic import activate_similarities, activate_vectors

    rng = np.random.default_rng(0)
    for n in (1, 3, 10, 25):
        units = rng.normal(size=(n, 8))
        units /= np.linalg.norm(units, axis=1, keepdims=True)
        sims = units @ units.T
        for p_size in (1, 4, 10, 40):
            p = min(p_size, n)
            weights = 1 / (1 + np.exp(0.5 * np.linspace(-10, 10, p)))
            expected = [
                sum(weights[d] * sims[i, i + d] for d in range(p) if i + d < n) for i in range(n)
            ]
            np.testing.assert_allclose(activate_similarities(sims, p_size), expected)
            np.testing.assert_allclose(activate_vectors(units, p_size), expected)
