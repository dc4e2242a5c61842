"""The offline default generator: answers with the sentence of the passages that answers best."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..moments import (
    ANSWER_WORDS,
    DEFAULT_SCORER,
    MOMENT_SECONDS,
    NEIGHBOUR_RATIO,
    SentenceScorer,
    choose_sentences,
    moments_by_passage,
)
from ..schema import Hit, Message, Segment
from ..terms import content_words
from .base import Generation

__all__ = ["ExtractiveGenerator", "content_words", "quote"]

#: A per-file speaker label (names always lead a quote; labels only where voices must be told apart).
_LABEL = re.compile(r"SPEAKER_\d+")


def quote(sentences: Sequence[Segment]) -> str:
    """Sentences as an answer, each run of one speaker led by the speaker ("Sheila: ...").

    Names always lead; per-file labels (``SPEAKER_01``) only when the quote holds more than one
    speaker, where they tell the voices apart.
    """
    speakers = {s.speaker for s in sentences if s.speaker}
    show = {who for who in speakers if not _LABEL.fullmatch(who)} | (speakers if len(speakers) > 1 else set())
    parts: list[str] = []
    last: str | None = None
    for s in sentences:
        who = s.speaker if s.speaker in show else None
        parts.append(f"{who}: {s.text}" if who and who != last else s.text)
        last = who
    return " ".join(parts)


class ExtractiveGenerator:
    """Answers with the sentence(s), word for word, of the passages that best answer the question.

    Every sentence of every passage (`mediarag.sentences.timed_sentences`: as indexed, or split
    from the text of older indexes) is scored by ``scorer`` (`mediarag.moments.SentenceScorer`:
    the question's rare words it holds, and its exact phrases). The best sentence is the answer;
    up to ``max_sentences`` when others score within ``relative_cutoff`` of it; a sentence over
    ``max_words`` words (run-on speech recognition) is cut to the words around the question's
    terms (`mediarag.moments.excerpt`). The generation
    says which sentences it used, so each citation points at its moment: the quoted sentence,
    with the sentence before or after it when that one scores at least ``neighbour_ratio`` of the
    best and the moment stays within ``moment_seconds`` (inside its passage; with
    ``neighbour_gap``, also across a passage edge: `mediarag.moments.choose_sentences`). No model
    is needed, so it is fast and never says anything the media does not.
    """

    def __init__(
        self,
        max_sentences: int = 1,
        relative_cutoff: float = 0.8,
        scorer: SentenceScorer = DEFAULT_SCORER,
        max_words: int | None = ANSWER_WORDS,
        *,
        neighbour_ratio: float | None = NEIGHBOUR_RATIO,
        moment_seconds: float = MOMENT_SECONDS,
        neighbour_gap: float | None = None,
    ) -> None:
        self.max_sentences = max_sentences
        self.relative_cutoff = relative_cutoff
        self.scorer = scorer
        self.max_words = max_words
        self.neighbour_ratio = neighbour_ratio
        self.moment_seconds = moment_seconds
        self.neighbour_gap = neighbour_gap

    def warm_up(self) -> None:
        """Nothing to load."""

    def generate(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Generation:
        chosen = choose_sentences(
            question, passages, max_sentences=self.max_sentences, relative_cutoff=self.relative_cutoff,
            max_words=self.max_words, scorer=self.scorer, neighbour_ratio=self.neighbour_ratio,
            moment_seconds=self.moment_seconds, neighbour_gap=self.neighbour_gap,
        )  # fmt: skip
        if not chosen:
            return Generation(text="", used=[])
        text = quote([c.segment for c in chosen])
        used = sorted({c.passage for c in chosen})
        return Generation(text=text, used=used, moments=moments_by_passage(chosen, passages))
