"""The last step for questions: from retrieved passages to an `Answer` that cites them."""

from __future__ import annotations

from collections.abc import Sequence

from ..retrieve.citations import cite
from ..schema import Answer, Hit, Message
from .base import AnswerStream, Generation, Generator, QuestionRewriter, StreamingGenerator
from .prompt import heuristic_rewrite

NO_ANSWER = "I don't know: nothing in the indexed media answers this question."
NO_KNOWLEDGE_BASE = "The knowledge base is switched off and this generator answers only from indexed media."


class Answerer:
    """Writes answers with a generator, citing only passages it was given.

    When no passage was retrieved the generator is not called: the answer says it does not
    know, cites nothing and has ``grounded=False``. Citations come from the passages, never
    from generated text; ``[n]`` in an answer refers to ``citations[n - 1]``.
    """

    def __init__(self, generator: Generator) -> None:
        self.generator = generator

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
        return generated.then(lambda g: make_answer(question, hits, g, standalone_question, no_answer))

    def standalone(self, question: str, history: Sequence[Message], last_query: str | None) -> str:
        """``question`` rewritten to stand alone: by the generator when it can rewrite and there
        is history, else by `mediarag.generate.prompt.heuristic_rewrite`."""
        if not history:
            return question.strip()
        if isinstance(self.generator, QuestionRewriter):
            return str(self.generator.rewrite(question, list(history))).strip() or question.strip()
        return heuristic_rewrite(question, last_query)


def make_answer(
    question: str, hits: Sequence[Hit], generation: Generation, standalone_question: str | None, no_answer: str
) -> Answer:
    """The `Answer` for a generation over ``hits``: grounded when it cites at least one."""
    used = [i for i in dict.fromkeys(generation.used) if 0 <= i < len(hits)]
    citations = [cite(hits[i]) for i in used]
    text = generation.text.strip()
    if not text or not citations:
        return Answer(question=question, text=text or no_answer, grounded=False, standalone_question=standalone_question)
    return Answer(question=question, text=text, citations=citations, grounded=True, standalone_question=standalone_question)


def fixed(answer: Answer) -> AnswerStream[Answer]:
    """A stream holding an answer known in advance (no generator involved)."""
    return AnswerStream.of(answer, answer.text)
