"""Sentence merging: hand-made cases for the rules, hypothesis for the invariants."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mediarag.schema import Chunk, Segment, Word
from mediarag.sentences import ends_sentence, join_texts, merge_sentences, timed_sentences


def seg(start, end, text, language="en", words=()):
    return Segment(start=start, end=end, text=text, language=language, words=tuple(words))


def test_trailing_fragment_without_period_is_kept():
    out = merge_sentences([seg(0, 2, "We start here."), seg(2, 4, "But this never ends")])
    assert [s.text for s in out] == ["We start here.", "But this never ends"]
    assert out[-1].end == 4


def test_fragments_merge_into_one_sentence_with_merged_span():
    out = merge_sentences([seg(1, 2, "The cat"), seg(2.5, 4, "sat on"), seg(4, 5, "the mat.")])
    assert len(out) == 1
    assert (out[0].start, out[0].end, out[0].text) == (1, 5, "The cat sat on the mat.")


def test_other_sentence_ends():
    text = "Really? Yes! Well… 好的。你呢？ هل أنت بخير؟ Fine."
    out = merge_sentences([seg(0, 10, text)])
    assert [s.text for s in out] == ["Really?", "Yes!", "Well…", "好的。", "你呢？", "هل أنت بخير؟", "Fine."]


def test_abbreviations_and_decimals_do_not_split():
    out = merge_sentences([seg(0, 6, "Dr. Smith paid 3.5 dollars, e.g. in cash at 5 p.m. today. Then left.")])
    assert [s.text for s in out] == ["Dr. Smith paid 3.5 dollars, e.g. in cash at 5 p.m. today.", "Then left."]
    assert not ends_sentence("U.S.", "and")


def test_german_ordinals_do_not_end_a_sentence():
    text = ("Tesla starb am 7. Januar 1943. Im 18. Jahrhundert kamen 500.000 Hugenotten, der 5. Rang. "
            "Im Jahr 2007. Danach kam die Route 99. Sie ist lang.")
    out = merge_sentences([seg(0, 10, text, "de")])
    assert [s.text for s in out] == [
        "Tesla starb am 7. Januar 1943.",
        "Im 18. Jahrhundert kamen 500.000 Hugenotten, der 5. Rang.",
        "Im Jahr 2007.",  # a year, then a sentence
        "Danach kam die Route 99.",  # a number, then a word that starts sentences
        "Sie ist lang.",
    ]
    # a day and a month is a date in any language; a capitalised noun after a number only in German
    assert not ends_sentence("7.", "Januar", "en")
    assert ends_sentence("3.", "Rang", "en") and not ends_sentence("3.", "Rang", "de")
    assert ends_sentence("2007.", "Januar", "de") and ends_sentence("40.", "Mai", "de") is False


def test_timed_sentences_of_a_passage_with_and_without_stored_sentences():
    stored = (seg(1.0, 2.0, "One."), seg(2.5, 4.0, "Two more."))
    chunk = Chunk(id="a", source="a.wav", start=1.0, end=4.0, text="One. Two more.", sentences=stored)
    assert timed_sentences(chunk) == stored
    old = Chunk(id="b", source="a.wav", start=0.0, end=12.0, text="Short one. A longer second sentence here.", speaker="S1")
    split = timed_sentences(old)
    assert [s.text for s in split] == ["Short one.", "A longer second sentence here."]
    assert split[0].start == 0.0 and split[-1].end == 12.0 and 0 < split[1].start < 6.0
    assert all(s.speaker == "S1" and s.words == () for s in split)
    assert timed_sentences(Chunk(id="c", source="a.wav", start=0, end=1, text="  ")) == ()


def test_times_come_from_word_timestamps():
    words = [Word(start=0.5, end=0.9, text=" Hello"), Word(start=1.0, end=1.4, text=" there."),
             Word(start=3.1, end=3.5, text=" Bye"), Word(start=3.6, end=4.2, text=" now.")]
    out = merge_sentences([seg(0.0, 5.0, "Hello there. Bye now.", words=words)])
    assert [(s.start, s.end, s.text) for s in out] == [(0.5, 1.4, "Hello there."), (3.1, 4.2, "Bye now.")]


def test_language_change_and_long_pause_end_a_sentence():
    out = merge_sentences([seg(0, 2, "hello my friends", "en"), seg(2, 4, "hola amigos", "es"),
                           seg(7, 8, "y adios", "es")])
    assert [(s.text, s.language) for s in out] == [("hello my friends", "en"), ("hola amigos", "es"), ("y adios", "es")]


def test_cjk_joins_without_spaces():
    assert join_texts(["我们", "走吧。"]) == "我们走吧。"
    assert join_texts([" a ", "b"]) == "a b"


_word = st.text(alphabet="abcdefghij.?!, 3", min_size=1, max_size=8).filter(lambda w: w.strip())


@st.composite
def fragments(draw):
    n = draw(st.integers(0, 12))
    t = 0.0
    out = []
    for _ in range(n):
        t += draw(st.floats(0, 3))
        length = draw(st.floats(0, 5))
        words = draw(st.lists(_word, min_size=1, max_size=6))
        out.append(seg(t, t + length, " ".join(w.strip() for w in words), draw(st.sampled_from(["en", "es", "de"]))))
        t += length
    return out


@settings(max_examples=150, deadline=None)
@given(fragments())
def test_properties(frags):
    out = merge_sentences(frags)
    # text preserved, in order
    assert " ".join(" ".join(s.text.split()) for s in out).split() == " ".join(f.text for f in frags).split()
    # times never decrease and stay within the input's span
    for s in out:
        assert s.start <= s.end
    for a, b in zip(out, out[1:]):
        assert a.start <= b.start and a.end <= b.start + 1e-9
    if frags:
        assert out[0].start >= frags[0].start and out[-1].end <= max(f.end for f in frags) + 1e-9
