"""The Transcriber protocol: audio in, timestamped transcript out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ..media import Audio
from ..schema import Task, Transcript

#: Called with the number of seconds of audio transcribed so far.
ProgressCallback = Callable[[float], None]


@runtime_checkable
class Transcriber(Protocol):
    """Turns decoded audio into a `mediarag.schema.Transcript`.

    Implementations load their model in `warm_up` (called once, idempotent) and return
    segments in time order, each within ``[0, audio.duration]`` and tagged with its language.
    ``language=None`` means detect it; ``task="translate"`` translates the speech to English.
    """

    def warm_up(self) -> None: ...

    def check_language(self, language: str | None) -> None:
        """Raise `mediarag.errors.ConfigError` for a language this transcriber cannot take,
        before any audio is read (None: detect the language)."""
        ...

    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        progress: ProgressCallback | None = None,
    ) -> Transcript: ...
