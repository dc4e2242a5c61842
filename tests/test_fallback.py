"""Degenerate model replies are told apart and replaced by the extractive answer.

The replies here are the ones small local models were seen to give (issue 14: "[1] Briefing"
to "Where is the fire assembly point?"); `FixedReply` stands in for such a model, so that the
`Answerer`'s handling is tested on exactly those replies. The real model's answers are tested in
test_llm.py.
"""

from __future__ import annotations

import pytest

from mediarag.generate.answer import Answerer
from mediarag.generate.base import AnswerStream, Generation
from mediarag.generate.fallback import degenerate
from mediarag.generate.prompt import read_answer
from mediarag.schema import Chunk, Hit, Segment
from mediarag.testing import ScriptedChat

QUESTION = "Where is the fire assembly point?"
LINES = [
    (0.0, 3.1, "Welcome to the safety briefing for new staff."),
    (6.3, 10.2, "In case of fire, leave the building by the nearest exit."),
    (10.5, 14.0, "The fire assembly point is the car park behind the main building."),
]


def passage_of(lines: list[tuple[float, float, str]], id: str, source: str) -> Hit:
    """A retrieved passage made of ``lines`` (start, end, sentence)."""
    return Hit(
        chunk=Chunk(
            id=id, source=source, start=lines[0][0], end=lines[-1][1], text=" ".join(t for *_, t in lines),
            sentences=tuple(Segment(start=a, end=b, text=t) for a, b, t in lines),
        ),
        score=0.8,
    )


HITS = [passage_of(LINES, "b", "/media/briefing.wav")]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("[1] Briefing", "only a citation label"),
        ("[1]", "only a citation label"),
        ("briefing.wav 00:00-00:14 [1]", "only a citation label"),
        ("", "empty"),
        ("The fire assembly point is [1].", "repeated the question"),
        ("In the lobby of the Hilton hotel in Paris.", "not supported"),
        # the question's words said back around a made-up place
        ("The fire assembly point is in the lobby of the Hilton [1].", "not supported"),
    ],
)
def test_degenerate_replies_are_named(reply, reason):
    assert reason in degenerate(QUESTION, reply, HITS)


@pytest.mark.parametrize(
    "reply",
    ["The car park behind the main building [1].", "At the car park [1]", "I don't know.", "Yes [1]."],
)
def test_usable_replies_and_refusals_stand(reply):
    assert degenerate(QUESTION, reply, HITS) is None


def test_a_number_in_digits_is_supported_by_the_same_number_in_words():
    # Whisper writes small numbers as words; a model answering "4" is right, not made up
    said = [(0.0, 4.0, "Only four teams have made eight appearances in the final."),
            (4.0, 8.0, "The league was founded in nineteen twenty.")]  # fmt: skip
    hits = [passage_of(said, "n", "/media/league.wav")]
    assert degenerate("How many teams have made eight appearances?", "4 [1]", hits) is None
    assert degenerate("When was the league founded?", "1920 [1]", hits) is None
    assert "not supported" in degenerate("How many teams have made eight appearances?", "7 [1]", hits)


class FixedReply:
    """A generator that always replies ``text`` (labels read as a model's are)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def warm_up(self) -> None:
        pass

    def generate(self, question, passages, history=()):
        return read_answer(self.text, passages)

    def stream(self, question, passages, history=()):
        return AnswerStream(iter([self.text]), lambda text: read_answer(text, passages))


def test_a_label_only_reply_is_replaced_by_the_extractive_answer_and_marked():
    for stream in (False, True):
        reply = Answerer(FixedReply("[1] Briefing")).stream(QUESTION, HITS, stream=stream)
        pieces = list(reply)
        answer = reply.answer
        assert answer.text == "The fire assembly point is the car park behind the main building."
        assert answer.fallback == "the model's reply was only a citation label"
        assert answer.grounded and answer.citations[0].moment.start == 10.5
        if stream:  # what was shown while streaming was the model's own reply
            assert "".join(pieces) == "[1] Briefing"


def test_a_good_reply_is_kept_and_its_citation_points_at_the_moment():
    answer = Answerer(FixedReply("The car park behind the main building [1].")).stream(QUESTION, HITS, stream=False).answer
    assert answer.fallback is None and answer.text == "The car park behind the main building [1]."
    assert (answer.citations[0].moment.start, answer.citations[0].moment.end) == (10.5, 14.0)


def test_no_fallback_when_switched_off():
    answerer = Answerer(FixedReply("[1]"))
    answerer.fallback = None
    answer = answerer.stream(QUESTION, HITS, stream=False).answer
    assert answer.fallback is None and answer.text == "[1]"


def test_generation_moments_default_to_empty():
    assert Generation(text="x").moments == {}


# the question's words are in the first passage, the answer in the second
SAFETY = [
    passage_of([(0.0, 3.1, "Welcome to the safety briefing for new staff."),
                (6.3, 10.2, "The fire assembly point was chosen by the safety team last year.")], "a", "/media/safety.wav"),
    passage_of([(0.0, 3.0, "Visitors sign in at reception."),
                (10.5, 14.0, "When the fire alarm sounds, everyone meets in the car park behind the main building.")],
               "c", "/media/campus.wav"),
]  # fmt: skip


@pytest.mark.parametrize("stream", [False, True])
def test_a_single_label_is_moved_to_the_passage_that_says_the_answer(stream):
    generator = ScriptedChat("The car park behind the main building [1].")
    assert [f.index for f in generator.shown(QUESTION, SAFETY)] == [0, 1]  # so [1] is the safety briefing
    reply = Answerer(generator).stream(QUESTION, SAFETY, stream=stream)
    list(reply)
    (citation,) = reply.answer.citations
    assert citation.source == "/media/campus.wav" and (citation.moment.start, citation.moment.end) == (10.5, 14.0)
    assert reply.answer.text == "The car park behind the main building [1]."


def test_a_label_on_the_passage_that_says_the_answer_stays():
    generator = ScriptedChat("The car park behind the main building [2].")
    answer = Answerer(generator).stream(QUESTION, SAFETY, stream=False).answer
    assert [c.source for c in answer.citations] == ["/media/campus.wav"]


def test_several_labels_stay_as_the_model_wrote_them():
    reply = "The safety team chose it [1]: everyone meets in the car park [2]."
    answer = Answerer(ScriptedChat(reply)).stream(QUESTION, SAFETY, stream=False).answer
    assert [c.source for c in answer.citations] == ["/media/safety.wav", "/media/campus.wav"]
    assert [c.moment.start for c in answer.citations] == [6.3, 10.5]
