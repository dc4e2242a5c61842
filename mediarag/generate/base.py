"""The Generator protocol: a question and retrieved passages in, an answer out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ..schema import Hit, Message


@dataclass(frozen=True)
class Generation:
    """A generator's reply: its text and which of the given passages it rests on (indices)."""

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
