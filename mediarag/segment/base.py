"""The Segmenter protocol: timed sentences in, timed passages out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ..schema import Segment


@runtime_checkable
class Segmenter(Protocol):
    """Groups a transcript's sentences into passages to embed and index.

    Passages come back in time order; each spans from the start of its first piece of speech to
    the end of its last, and together they hold all of the input text.
    """

    def warm_up(self) -> None: ...

    def split(self, sentences: Sequence[Segment]) -> list[Segment]: ...
