"""The Generator protocol: a question and retrieved passages in, an answer out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, runtime_checkable

from ..schema import Hit, Message, Moment

R = TypeVar("R")
S = TypeVar("S")


@dataclass(frozen=True)
class Generation:
    """A generator's reply: its text, which of the given passages it rests on (indices), and
    the moment inside each of those passages that it rests on.

    When the text carries labels, ``[n]`` refers to ``used[n - 1]``. ``moments`` maps a passage
    index to the time span of the sentence(s) used; a used passage without one gets the moment
    that best matches the answer (`mediarag.moments.best_moment`) when it is cited.
    """

    text: str
    used: list[int] = field(default_factory=list)
    moments: dict[int, Moment] = field(default_factory=dict)


@runtime_checkable
class Generator(Protocol):
    """Writes an answer from passages. It never invents citations: it only points, by index,
    at the passages it was given, and the caller turns those into citations."""

    def warm_up(self) -> None: ...

    def generate(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Generation: ...


class AnswerStream(Generic[R]):
    """An answer as it is written: iterate for text pieces, then read the result.

    The one stream type of mediarag: a generator's stream ends in a `Generation`, and
    `MediaQA.ask_stream` maps it (`then`) to one that ends in an `mediarag.schema.Answer`.
    Reading `result` (or its names `answer`, `generation`) before the end consumes the rest;
    `close` stops a model that is still writing.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], R]) -> None:
        self._pieces = pieces
        self._finish = finish
        self._parts: list[str] = []
        self._result: R | None = None
        self._done = False
        self._callbacks: list[Callable[[R], None]] = []

    @classmethod
    def of(cls, result: R, text: str) -> AnswerStream[R]:
        """A stream of one piece, ``text``, whose result is known already."""
        return cls(iter([text] if text else []), lambda _: result)

    def then(self, transform: Callable[[R], S]) -> AnswerStream[S]:
        """A stream of the same pieces whose result is ``transform`` of this one's."""
        return AnswerStream(self, lambda _: transform(self.result))

    def on_result(self, callback: Callable[[R], None]) -> AnswerStream[R]:
        """Call ``callback`` with the result once it is complete; returns this stream."""
        self._callbacks.append(callback)
        return self

    on_answer = on_result

    def __iter__(self) -> AnswerStream[R]:
        return self

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        try:
            piece = next(self._pieces)
        except StopIteration:
            self._end()
            raise
        self._parts.append(piece)
        return piece

    def _end(self) -> None:
        if not self._done:
            self._done = True
            self._result = self._finish("".join(self._parts))
            for callback in self._callbacks:
                callback(self._result)

    @property
    def text(self) -> str:
        """The text streamed so far."""
        return "".join(self._parts)

    @property
    def result(self) -> R:
        """The complete result (consumes what is left of the stream)."""
        for _ in self:
            pass
        return self._result  # type: ignore[return-value]

    @property
    def answer(self) -> R:
        """The result of an answer stream: the `mediarag.schema.Answer`."""
        return self.result

    @property
    def generation(self) -> R:
        """The result of a generator's stream: the `Generation`."""
        return self.result

    def close(self) -> None:
        """Stop generating; the result then holds what was written so far."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        self._end()


#: A generator's stream: an `AnswerStream` that ends in a `Generation`.
GenerationStream = AnswerStream


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A generator that can also hand out its answer piece by piece as the model writes it."""

    def stream(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> AnswerStream[Generation]: ...


@runtime_checkable
class QuestionRewriter(Protocol):
    """Turns a follow-up question into one that stands alone, using the conversation so far."""

    def rewrite(self, question: str, history: Sequence[Message]) -> str: ...
