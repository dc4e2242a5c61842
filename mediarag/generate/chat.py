"""What every generator backed by a chat model shares: prompt, budget, stream, labels, timeout."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence

from ..errors import GeneratorError, MediaRagError
from ..moments import Focused, best_moment, choose_sentences, focus, moments_by_passage
from ..schema import Hit, Message, Moment
from .base import AnswerStream, Generation
from .prompt import (
    DEFAULT_STOP,
    ChatMessage,
    LabelMapper,
    Prompt,
    approx_tokens,
    finish,
    fit_prompt,
    read_rewrite,
    rewrite_messages,
    strip_labels,
)


class ChatGenerator:
    """Base of the LLM generators: answers from labelled passages with a chat model.

    A subclass says how to talk to its model: `chat_stream` (required), and `chat` and
    `count_tokens` when it can do better than the defaults. This class builds the grounded prompt
    within ``context_window`` tokens (see `mediarag.generate.prompt.fit_prompt`), stops on ``stop``
    sequences, turns the model's ``[n]`` labels into passage indices, rewrites follow-up
    questions (`rewrite`), and raises `GeneratorError` when a reply takes longer than ``timeout``
    seconds (from the request: loading the model and reading the prompt count). Whatever the
    model's client raises (a `mediarag.errors.ServiceError` of an endpoint, say) comes out as a
    `GeneratorError` with the cause chained. ``calls`` counts the requests made to the model.

    Args:
        context_window: Tokens the model reads and writes in one request.
        max_tokens: Longest answer, in tokens.
        temperature: Sampling temperature; 0 picks the likeliest token (repeatable answers).
        stop: Extra stop sequences, added to `mediarag.generate.prompt.DEFAULT_STOP`.
        timeout: Seconds one reply may take, from request to last token.
        moment_sentences: The model reads only this many sentences of the passages that best
            match the question (`mediarag.moments.focus`), under their passages' labels: a
            shorter prompt is read faster and keeps the model on the point. None: whole passages.

    Each citation points at the sentence, of what the model read from its passage, that best
    matches the question and the answer; an answer with a single label cites the passage whose
    sentence matches best (`_with_moments`).
    """

    #: Worked examples sent between the instruction and the conversation (see
    #: `mediarag.generate.prompt.EXAMPLE_MESSAGES`); none by default.
    examples: tuple[ChatMessage, ...] = ()

    def __init__(
        self,
        *,
        context_window: int = 4096,
        max_tokens: int = 256,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        timeout: float = 120.0,
        moment_sentences: int | None = 3,
    ) -> None:
        self.context_window = int(context_window)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.stop = tuple(dict.fromkeys((*DEFAULT_STOP, *stop)))
        self.timeout = float(timeout)
        self.moment_sentences = moment_sentences
        self.calls = 0
        self.last_prompt: Prompt | None = None

    # What a subclass provides --------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the model or check the endpoint (nothing by default)."""

    def chat_stream(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> Iterator[str]:
        """The model's reply to ``messages``, piece by piece."""
        raise NotImplementedError

    def chat(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> str:
        """The model's whole reply to ``messages`` (by default, the joined stream)."""
        return "".join(self.chat_stream(messages, max_tokens=max_tokens, stop=stop, timeout=timeout))

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (by default an estimate of one per 3.5 characters)."""
        return approx_tokens(text)

    # The Generator protocol -----------------------------------------------------------------

    def shown(self, question: str, passages: Sequence[Hit]) -> list[Focused]:
        """What the model reads of the passages: their best sentences (``moment_sentences``),
        each with the index of its passage."""
        if self.moment_sentences is None:
            return [Focused(i, h) for i, h in enumerate(passages)]
        return focus(question, passages, sentences=self.moment_sentences)

    def prompt(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Prompt:
        """The messages this generator sends for a question (see `fit_prompt`), over the
        passages as `shown`."""
        return self._prompt(question, [f.hit for f in self.shown(question, passages)], history)

    def _prompt(self, question: str, shown: Sequence[Hit], history: Sequence[Message]) -> Prompt:
        return fit_prompt(
            question,
            shown,
            history,
            context_window=self.context_window,
            max_tokens=self.max_tokens,
            count=self.count_tokens,
            examples=self.examples,
        )

    def generate(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Generation:
        """The model's grounded answer, with the passages it cites."""
        started = time.monotonic()
        with self._errors():
            prompt, kept = self._start(question, passages, history)
            text = self.chat(prompt.messages, max_tokens=self.max_tokens, stop=self.stop, timeout=self._left(started))
        self._check_deadline(started)
        mapper = LabelMapper(len(kept))
        return _with_moments(finish(mapper.map(text), mapper.used, [f.hit for f in kept]), question, kept)

    def stream(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> AnswerStream[Generation]:
        """The answer piece by piece as the model writes it; labels are already renumbered."""
        started = time.monotonic()
        with self._errors():
            prompt, kept = self._start(question, passages, history)
        mapper = LabelMapper(len(kept))
        return AnswerStream(
            self._pieces(prompt, mapper, started),
            lambda text: _with_moments(finish(text, mapper.used, [f.hit for f in kept]), question, kept),
        )

    def rewrite(self, question: str, history: Sequence[Message]) -> str:
        """``question`` made standalone with the conversation ``history`` (unchanged without one)."""
        if not any(m.role == "user" for m in history):
            return question
        self.calls += 1
        messages = rewrite_messages(question, history[-6:])
        with self._errors():
            reply = self.chat(messages, max_tokens=64, stop=("\n",), timeout=self.timeout)
        return read_rewrite(reply, question) or question

    # Helpers ---------------------------------------------------------------------------------

    def _start(self, question: str, passages: Sequence[Hit], history: Sequence[Message]) -> tuple[Prompt, list[Focused]]:
        """The prompt, and the passages it holds as the model reads them."""
        shown = self.shown(question, passages)
        prompt = self._prompt(question, [f.hit for f in shown], history)
        self.last_prompt = prompt
        self.calls += 1
        return prompt, shown[: prompt.kept]

    def _pieces(self, prompt: Prompt, mapper: LabelMapper, started: float) -> Iterator[str]:
        with self._errors():
            self._check_deadline(started)
            replies = self.chat_stream(
                prompt.messages, max_tokens=self.max_tokens, stop=self.stop, timeout=self._left(started)
            )
            first = True
            try:
                for piece in replies:
                    self._check_deadline(started)
                    out = mapper.feed(piece)
                    if first:
                        out = out.lstrip()
                    if out:
                        first = False
                        yield out
                tail = mapper.flush()
                if first:
                    tail = tail.lstrip()
                if tail:
                    yield tail
            finally:
                close = getattr(replies, "close", None)
                if close is not None:
                    close()

    def _left(self, started: float) -> float:
        """Seconds left of the answer's ``timeout`` (the model may need them all)."""
        left = self.timeout - (time.monotonic() - started)
        if left <= 0:
            raise self._timed_out()
        return left

    def _check_deadline(self, started: float) -> None:
        if time.monotonic() - started > self.timeout:
            raise self._timed_out()

    def _timed_out(self) -> GeneratorError:
        return GeneratorError(f"{type(self).__name__}: no complete answer within {self.timeout:g} s")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Any failure of the model's client, as a `GeneratorError` naming this generator."""
        try:
            yield
        except GeneratorError:
            raise
        except MediaRagError as exc:
            raise GeneratorError(f"{type(self).__name__}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - a model client's own errors, chained
            raise GeneratorError(f"{type(self).__name__}: {type(exc).__name__}: {exc}") from exc


def _with_moments(generation: Generation, question: str, shown: Sequence[Focused]) -> Generation:
    """``generation`` over the passages as shown, as a generation over the passages given: used
    indices mapped back, and the moment of each cited passage (the sentence, of what the model
    read, that best matches the question and the answer).

    An answer that cites one passage is checked against its words: the citation goes to the
    passage whose sentence best supports the question and answer together (`choose_sentences`
    over everything the model read), which is the labelled one unless the answer's words are
    said elsewhere. Small models often write the worked example's ``[1]`` whatever they drew on:
    on spoken XQuAD this took the 1.5B model's cited moment from 0.67 to 0.81 of answers on the
    answer sentence (benchmarks/results/llm-moments.md). Answers that cite several passages keep
    them as the model labelled them.
    """
    query = f"{question} {strip_labels(generation.text)}"
    cited = [i for i in generation.used if 0 <= i < len(shown)]
    moments: dict[int, Moment] = {}
    if len(cited) == 1:
        hits = [f.hit for f in shown]
        chosen = choose_sentences(query, hits)
        if chosen:
            cited = [chosen[0].passage]
            moments = moments_by_passage(chosen[:1], hits)
    for i in cited:
        if i not in moments and (m := best_moment(query, shown[i].hit)) is not None:
            moments[i] = m
    used = [shown[i].index for i in cited]
    return Generation(text=generation.text, used=used, moments={shown[i].index: m for i, m in moments.items()})
