"""Answer moments: choosing the answering sentence, its times, and citations that play it.

Fast tests over hand-made passages; the moments of real recordings are tested in test_qa.py
(Whisper on real speech) and test_llm.py (the local model's citations).
"""

from __future__ import annotations

import json
from pathlib import Path

from mediarag.generate.answer import Answerer, make_answer
from mediarag.generate.base import Generation
from mediarag.generate.extractive import ExtractiveGenerator
from mediarag.moments import ANSWER_WORDS, NEIGHBOUR_GAP, SentenceScorer, best_moment, choose_sentences, excerpt, focus
from mediarag.retrieve.citations import cite, cite_for
from mediarag.schema import Answer, Chunk, Citation, Hit, Moment, Segment

BRIEFING = [
    (0.0, 3.1, "Welcome to the safety briefing for new staff."),
    (3.4, 6.0, "The canteen opens at eight in the morning."),
    (6.3, 10.2, "In case of fire, leave the building by the nearest exit."),
    (10.5, 14.0, "The fire assembly point is the car park behind the main building."),
    (14.3, 17.0, "Visitors must sign in at reception."),
]


def passage(lines, source="/media/briefing.wav", score=0.8, stored=True, **extra):
    sentences = tuple(Segment(start=a, end=b, text=t) for a, b, t in lines)
    chunk = Chunk(
        id=f"{source}-{lines[0][0]}", source=source, start=lines[0][0], end=lines[-1][1],
        text=" ".join(t for _, _, t in lines), sentences=sentences if stored else (), **extra,
    )  # fmt: skip
    return Hit(chunk=chunk, score=score)


def test_the_sentence_holding_the_question_phrase_is_the_moment():
    hit = passage(BRIEFING)
    assert best_moment("Where is the fire assembly point?", hit) == Moment(start=10.5, end=14.0)
    # "fire" alone is in two sentences; the exact phrase decides
    scores = SentenceScorer().score("fire assembly point", [t for _, _, t in BRIEFING])
    assert max(range(5), key=scores.__getitem__) == 3


def test_rare_question_words_count_more_than_common_ones():
    lines = [(0, 2, "The building has a canteen."), (2, 4, "The building has a reception."), (4, 6, "Staff park here.")]
    question = "When does the canteen of the building open?"
    assert best_moment(question, passage(lines), neighbour_ratio=None) == Moment(start=0, end=2)
    # the next sentence shares "building": close enough for the moment to take it in
    assert best_moment(question, passage(lines)) == Moment(start=0, end=4)


def test_passages_of_old_indexes_get_moments_from_their_text():
    old = passage(BRIEFING, stored=False)
    moment = best_moment("Where is the fire assembly point?", old)
    assert moment is not None and 0 < moment.start < moment.end < 17.0
    # interpolated times: the fourth of five similar-length sentences sits in the second half
    assert moment.start > 8.0 and moment.end > 12.0


def test_extractive_answer_is_one_sentence_with_its_moment():
    hits = [passage([(30.0, 33.0, "Lunch is served at noon.")], source="/media/other.wav", score=0.85), passage(BRIEFING)]
    generation = ExtractiveGenerator().generate("Where is the fire assembly point?", hits)
    assert generation.text == "The fire assembly point is the car park behind the main building."
    assert generation.used == [1] and generation.moments == {1: Moment(start=10.5, end=14.0)}
    answer = Answerer(ExtractiveGenerator()).stream("Where is the fire assembly point?", hits, stream=False).answer
    [citation] = answer.citations
    assert (citation.start, citation.end) == (0.0, 17.0)  # the passage
    assert citation.moment == Moment(start=10.5, end=14.0)  # the moment, and the link plays it
    assert citation.link == "file:///media/briefing.wav#t=10.5,14.0"
    assert answer.fallback is None


def test_extractive_answer_keeps_the_speaker_label():
    lines = [Segment(start=0, end=2, text="We meet at the car park.", speaker="Alice")]
    hit = Hit(chunk=Chunk(id="s", source="/m/a.wav", start=0, end=2, text=lines[0].text, sentences=tuple(lines)), score=0.9)
    assert ExtractiveGenerator().generate("Where do we meet?", [hit]).text == "Alice: We meet at the car park."


def test_more_sentences_only_when_they_score_close_to_the_best():
    hits = [passage(BRIEFING)]
    two = ExtractiveGenerator(max_sentences=2, relative_cutoff=0.0).generate("fire exit assembly", hits)
    assert two.text.startswith("In case of fire") and two.moments == {0: Moment(start=6.3, end=14.0)}
    chosen = choose_sentences("fire assembly point", hits, max_sentences=3, relative_cutoff=0.99)
    assert [c.sentence for c in chosen] == [3]


def test_search_hits_and_generations_without_moments_get_the_best_matching_sentence():
    hit = passage(BRIEFING)
    found = cite_for("visitors sign in", hit)
    assert found.moment == Moment(start=14.3, end=17.0) and found.link.endswith("#t=14.3,17.0")
    # a generator that cites the passage without saying where: the answer's words find the moment
    made = make_answer("Where do visitors go?", [hit], Generation(text="To reception [1].", used=[0]), None, "no")
    assert made.citations[0].moment == Moment(start=14.3, end=17.0)


def test_text_documents_have_no_moment():
    doc = passage([(0, 1, "The fire assembly point is the car park.")], source="/docs/notes.md")
    citation = cite(doc, Moment(start=0, end=1))
    assert citation.moment is None and citation.link == "file:///docs/notes.md"
    assert cite_for("fire assembly", doc).moment is None


def test_focus_keeps_the_best_sentences_of_all_passages_under_their_passage():
    other = passage([(30.0, 33.0, "Lunch is served at noon."), (33.5, 36.0, "The fire drill is on Monday.")],
                    source="/media/other.wav")  # fmt: skip
    shown = focus("Where is the fire assembly point?", [other, passage(BRIEFING)], sentences=3)
    assert [f.index for f in shown] == [1, 0]  # the passage of the best sentence first
    briefing, drill = shown[0].hit.chunk, shown[1].hit.chunk
    assert briefing.text == (
        "In case of fire, leave the building by the nearest exit. The fire assembly point is the car park behind the main building."
    )
    assert (briefing.start, briefing.end) == (6.3, 14.0) and len(briefing.sentences) == 2
    assert drill.text == "The fire drill is on Monday." and (drill.start, drill.end) == (33.5, 36.0)
    assert focus("fire", [], sentences=3) == []


def test_citations_and_answers_saved_before_moments_still_load():
    old = {"source": "a.wav", "start": 1.0, "end": 2.0, "text": "t", "score": 0.5, "link": "file:///a.wav#t=1.0,2.0",
           "kind": "speech", "speaker": None}  # fmt: skip
    citation = Citation.model_validate(old)
    assert citation.moment is None and citation.play_from == 1.0
    answer = Answer.model_validate({"question": "q", "text": "a", "citations": [old], "grounded": True})
    assert answer.fallback is None
    again = Citation.model_validate(json.loads(cite_for("t", passage([(1, 2, "t")])).model_dump_json()))
    assert again.moment == Moment(start=1, end=2) and again.play_from == 1


#: A run-on sentence as speech recognition writes them: the answer ("1937") right after the
#: question's words, far from the sentence's start.
RUN_ON = (
    "In the year after the rumours neither Tesla nor Edison won the prize and the committee met "
    "again in the autumn to read the letters of the many scientists who wrote to it about the "
    "award while Edison did receive 38 possible bids in 1915 and Tesla did receive 38 possible "
    "bids in 1937 which was his last chance to win it before his death in New York"
)


def test_a_run_on_sentence_is_cut_to_the_words_around_the_question_terms():
    sentence = Segment(start=100.0, end=130.0, text=RUN_ON)
    words = RUN_ON.split()
    assert len(words) > ANSWER_WORDS
    cut = excerpt("When did Tesla receive possible bids?", sentence, 36, cluster_words=25, context_words=4)
    assert "Tesla did receive 38 possible bids in 1937" in cut.text
    assert len(cut.text.split()) <= 36 and cut.text in RUN_ON
    # its times are those of its words, spread over the sentence by their length in characters
    at = RUN_ON.index(cut.text)
    assert cut.start == 100.0 + 30.0 * at / len(RUN_ON)
    assert cut.end == 100.0 + 30.0 * (at + len(cut.text)) / len(RUN_ON)
    assert 100.0 < cut.start < cut.end < 130.0
    # short sentences stay whole; without any question term, the first words
    short = Segment(start=0.0, end=2.0, text="Tesla did receive bids.")
    assert excerpt("When did Tesla receive bids?", short, 36) == short
    assert excerpt("Who painted the ceiling?", sentence, 10).text == " ".join(words[:10])


def test_the_rarest_question_terms_decide_where_the_cut_is():
    # "prize" is in every sentence of the pool, "1937" and "Tesla" only in this one: the cut keeps the rare ones
    pool = [RUN_ON, "The prize was given in Stockholm.", "The prize is a medal."]
    cut = excerpt("Did Tesla get the prize in 1937?", Segment(start=0.0, end=30.0, text=RUN_ON), 12, context_words=2, pool=pool)
    assert "1937" in cut.text and "Tesla" in cut.text


def test_extractive_answers_are_cut_around_the_question_terms():
    hit = passage([(0.0, 30.0, RUN_ON)])
    generation = ExtractiveGenerator().generate("In what year did Tesla receive bids for the prize?", [hit])
    assert "1937" in generation.text and len(generation.text.split()) <= ANSWER_WORDS
    (moment,) = generation.moments.values()
    assert 0.0 < moment.start < moment.end < 30.0


def test_of_two_sentences_matching_alike_the_better_passage_wins():
    first = passage([(0.0, 3.0, "The assembly point is the car park.")], source="/media/a.wav", score=0.80)
    second = passage([(5.0, 8.0, "The assembly point is the front lawn.")], source="/media/b.wav", score=0.79)
    for hits in ([first, second], [second, first]):
        (choice,) = choose_sentences("Where is the assembly point?", hits)
        assert choice.passage == 0  # the first in the ranking, whichever it is
    no_rank = SentenceScorer(rank=0.0)
    assert no_rank.score("assembly point", ["assembly point", "assembly point"], ranks=[0, 1]) == [no_rank.score("assembly point", ["assembly point"])[0]] * 2


def _superbowl() -> Hit:
    """A passage of the spoken Super Bowl 50 article as Whisper base transcribed it (sentence
    times from its words; tests/data/README.md)."""
    data = json.loads((Path(__file__).parent / "data" / "xquad_superbowl_passage.json").read_text(encoding="utf-8"))
    return Hit(chunk=Chunk.model_validate(data), score=0.85)


def test_a_moment_takes_in_the_next_sentence_when_the_answer_is_there():
    # The question's words are mostly in "He is also the oldest quarterback ...", the answer
    # ("John Elway", misheard as "John L. Wade") in the next sentence, which shares "record".
    hit = _superbowl()
    question = "Who previously held the record for being the oldest quarterback to play in a Super Bowl?"
    oldest, record = hit.chunk.sentences[2], hit.chunk.sentences[3]
    assert "oldest" in oldest.text and "John L. Wade" in record.text
    assert best_moment(question, hit, neighbour_ratio=None) == Moment(start=oldest.start, end=oldest.end)
    # the two sentences last 16.4 s: past the default budget (15 s), within a budget of 25
    assert best_moment(question, hit) == Moment(start=oldest.start, end=oldest.end)
    assert best_moment(question, hit, moment_seconds=25) == Moment(start=oldest.start, end=record.end)
    # the extractive answer quotes its sentence; its citation plays both
    answer = Answerer(ExtractiveGenerator(moment_seconds=25)).stream(question, [hit], stream=False).answer
    assert answer.text == oldest.text
    assert answer.citations[0].moment == Moment(start=oldest.start, end=record.end)
    assert answer.citations[0].link.endswith("#t=108.3,124.7")
    # a neighbour that shares nothing with the question stays out ("Peyton Manning became ...")
    assert best_moment("Who is the oldest quarterback to play in a Super Bowl at age 39?", hit, moment_seconds=25) == Moment(
        start=oldest.start, end=oldest.end
    )


def test_a_moment_takes_no_neighbour_past_its_length_budget():
    hit = _superbowl()
    question = "Who previously held the record for being the oldest quarterback to play in a Super Bowl?"
    oldest = hit.chunk.sentences[2]
    (choice,) = choose_sentences(question, [hit], moment_seconds=10.0)
    assert choice.context is None and (choice.segment.start, choice.segment.end) == (oldest.start, oldest.end)


def test_a_moment_may_run_into_the_next_retrieved_passage_of_the_same_file():
    whole = _superbowl().chunk
    first = whole.model_copy(update={"id": "a", "end": whole.sentences[2].end, "sentences": whole.sentences[:3],
                                     "text": " ".join(s.text for s in whole.sentences[:3])})  # fmt: skip
    second = whole.model_copy(update={"id": "b", "start": whole.sentences[3].start, "sentences": whole.sentences[3:],
                                      "text": whole.sentences[3].text})  # fmt: skip
    question = "Who previously held the record for being the oldest quarterback to play in a Super Bowl?"
    hits = [Hit(chunk=first, score=0.85), Hit(chunk=second, score=0.80)]
    # by default a moment stays inside its passage
    (choice,) = choose_sentences(question, hits)
    assert choice.passage == 0 and choice.context is None
    (choice,) = choose_sentences(question, hits, neighbour_gap=NEIGHBOUR_GAP, moment_seconds=25)
    assert choice.passage == 0 and choice.context == whole.sentences[3]
    generator = ExtractiveGenerator(neighbour_gap=NEIGHBOUR_GAP, moment_seconds=25)
    answer = Answerer(generator).stream(question, hits, stream=False).answer
    assert answer.citations[0].moment == Moment(start=whole.sentences[2].start, end=whole.sentences[3].end)
    assert answer.citations[0].moment.end > answer.citations[0].end  # past the cited passage
    # the same passage from another file is no neighbour
    elsewhere = second.model_copy(update={"id": "c", "source": "/media/other.ogg"})
    (choice,) = choose_sentences(
        question, [hits[0], Hit(chunk=elsewhere, score=0.80)], neighbour_gap=NEIGHBOUR_GAP, moment_seconds=25
    )
    assert choice.context is None
