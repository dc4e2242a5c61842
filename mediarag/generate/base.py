"""The Generator protocol: a question and retrieved passages in, an answer out."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..schema import Hit, Message


@dataclass(frozen=True)
class Generation:
    """A generator's reply: its text and which of the given passages it rests on (indices).

    When the text carries labels, ``[n]`` refers to ``used[n - 1]``.
    """

    text: str
    used: list[int] = field(default_factory=list)


@runtime_checkable
class Generator(Protocol):
    """Writes an answer from passages. It never invents citations: it only points, by index,
    at the passages it was given, and the caller turns those into citations."""

    def warm_up(self) -> None: ...

    def generate(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Generation: ...


class GenerationStream:
    """An answer as it is written: iterate for text pieces, then read `generation`.

    Reading `generation` before the end consumes the rest of the stream. `close` stops a model
    that is still writing.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[str], Generation]) -> None:
        self._pieces = pieces
        self._finish = finish
        self._parts: list[str] = []
        self._generation: Generation | None = None

    @classmethod
    def of(cls, generation: Generation) -> GenerationStream:
        """A stream of one piece for a generator that cannot stream."""
        return cls(iter([generation.text] if generation.text else []), lambda _: generation)

    def __iter__(self) -> GenerationStream:
        return self

    def __next__(self) -> str:
        if self._generation is not None:
            raise StopIteration
        try:
            piece = next(self._pieces)
        except StopIteration:
            self._generation = self._finish("".join(self._parts))
            raise
        self._parts.append(piece)
        return piece

    @property
    def generation(self) -> Generation:
        """The complete `Generation` (consumes what is left of the stream)."""
        for _ in self:
            pass
        assert self._generation is not None
        return self._generation

    def close(self) -> None:
        """Stop generating; `generation` then holds what was written so far."""
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
        if self._generation is None:
            self._generation = self._finish("".join(self._parts))


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A generator that can also hand out its answer piece by piece as the model writes it."""

    def stream(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> GenerationStream: ...


@runtime_checkable
class QuestionRewriter(Protocol):
    """Turns a follow-up question into one that stands alone, using the conversation so far."""

    def rewrite(self, question: str, history: Sequence[Message]) -> str: ...
