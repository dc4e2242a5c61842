"""The last step for questions: from retrieved passages to an `Answer` that cites them."""

from __future__ import annotations

from collections.abc import Sequence

from ..moments import best_moment
from ..retrieve.citations import cite
from ..schema import Answer, Hit, Message, Moment
from .base import AnswerStream, Generation, Generator, QuestionRewriter, StreamingGenerator
from .extractive import ExtractiveGenerator
from .fallback import degenerate
from .prompt import heuristic_rewrite

NO_ANSWER = "I don't know: nothing in the indexed media answers this question."
NO_KNOWLEDGE_BASE = "The knowledge base is switched off and this generator answers only from indexed media."


class Answerer:
    """Writes answers with a generator, citing only passages it was given.

    When no passage was retrieved the generator is not called: the answer says it does not
    know, cites nothing and has ``grounded=False``. Citations come from the passages, never
    from generated text; ``[n]`` in an answer refers to ``citations[n - 1]``, and each points at
    the moment the answer rests on.

    A degenerate reply of a model (`mediarag.generate.fallback.degenerate`: empty, only a
    citation label, the question repeated, not supported by the passages) is replaced by
    ``fallback``'s answer from the same passages (default: the extractive generator; set the
    attribute to None to keep every reply), and the answer's ``fallback`` says why. A streamed answer has then already shown the
    model's text; the final `Answer` holds the replacement.
    """

    def __init__(self, generator: Generator, fallback: Generator | None = None) -> None:
        self.generator = generator
        self.fallback = fallback if fallback is not None else ExtractiveGenerator()

    def stream(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[Message] = (),
        *,
        stream: bool = True,
        standalone_question: str | None = None,
        no_answer: str = NO_ANSWER,
    ) -> AnswerStream[Answer]:
        """The answer to ``question`` from ``hits`` (best first), piece by piece when the
        generator can stream and ``stream`` is on. The generator is asked
        ``standalone_question`` when given (a rewritten follow-up); the answer keeps both."""
        if not hits:
            return fixed(
                Answer(question=question, text=no_answer, grounded=False, standalone_question=standalone_question)
            )
        asked = standalone_question or question
        generator = self.generator
        if stream and isinstance(generator, StreamingGenerator):
            generated = generator.stream(asked, hits, list(history))
        else:
            generation = generator.generate(asked, hits, list(history))
            generated = AnswerStream.of(generation, generation.text)
        return generated.then(lambda g: self._answer(question, asked, hits, g, standalone_question, no_answer))

    def _answer(
        self, question: str, asked: str, hits: Sequence[Hit], generation: Generation, standalone: str | None, no_answer: str
    ) -> Answer:
        reason = None
        if self.fallback is not None and not isinstance(self.generator, ExtractiveGenerator):
            reason = degenerate(asked, generation.text, hits)
            if reason is not None:
                generation = self.fallback.generate(asked, hits)
        answer = make_answer(question, hits, generation, standalone, no_answer, asked=asked)
        return answer.model_copy(update={"fallback": reason}) if reason else answer

    def standalone(self, question: str, history: Sequence[Message], last_query: str | None) -> str:
        """``question`` rewritten to stand alone: by the generator when it can rewrite and there
        is history, else by `mediarag.generate.prompt.heuristic_rewrite`."""
        if not history:
            return question.strip()
        if isinstance(self.generator, QuestionRewriter):
            return str(self.generator.rewrite(question, list(history))).strip() or question.strip()
        return heuristic_rewrite(question, last_query)


def make_answer(
    question: str,
    hits: Sequence[Hit],
    generation: Generation,
    standalone_question: str | None,
    no_answer: str,
    *,
    asked: str | None = None,
) -> Answer:
    """The `Answer` for a generation over ``hits``: grounded when it cites at least one. Each
    citation gets the generation's moment for its passage, or else the sentence(s) of the
    passage that best match the answer and the question (``asked``, default ``question``)."""
    used = [i for i in dict.fromkeys(generation.used) if 0 <= i < len(hits)]
    text = generation.text.strip()
    query = f"{asked or question} {text}"
    citations = [cite(hits[i], _moment(generation.moments.get(i), query, hits[i])) for i in used]
    if not text or not citations:
        return Answer(question=question, text=text or no_answer, grounded=False, standalone_question=standalone_question)
    return Answer(question=question, text=text, citations=citations, grounded=True, standalone_question=standalone_question)


def _moment(given: Moment | None, query: str, hit: Hit) -> Moment | None:
    return given if given is not None else best_moment(query, hit)


def fixed(answer: Answer) -> AnswerStream[Answer]:
    """A stream holding an answer known in advance (no generator involved)."""
    return AnswerStream.of(answer, answer.text)
