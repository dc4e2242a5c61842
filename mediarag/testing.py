"""Small stand-ins for the model components, for testing code built on mediarag without
loading Whisper or an embedding model (as httpx ships a ``MockTransport``)::

    from mediarag import MediaQA
    from mediarag.testing import ScriptedTranscriber, HashingEmbedder

    qa = MediaQA("idx", transcriber=ScriptedTranscriber({"talk.wav": [(0.0, 2.0, "Hello there.")]}),
                 embedder=HashingEmbedder())

`ScriptedChat` stands in for a chat model: the generator's own prompt, label mapping, citations
and fallback run on the reply it is given. Everything else (decoding the real file, sentences,
passages, the index, answers) is the real thing. They are deterministic and need no download.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .generate.chat import ChatGenerator
from .media import Audio
from .schema import Segment, Task, Transcript, Word
from .transcribe.base import ProgressCallback
from .transcribe.hints import Hint
from .transcribe.languages import check_whisper_language

#: One spoken line of a script: start and end in seconds, and the text.
Line = tuple[float, float, str]


class ScriptedTranscriber:
    """A `mediarag.transcribe.base.Transcriber` that "hears" a script instead of the audio.

    ``script`` maps a file name (the audio's source name) to its lines, or is a function of the
    `Audio`; a file it does not know is heard as one line, ``"Recording <name>."``, over the
    whole audio. Words get times spread over each line, as Whisper's would. ``calls`` counts
    the files transcribed; ``hints`` holds the hints the last file came with.
    """

    def __init__(self, script: Mapping[str, Sequence[Line]] | Callable[[Audio], Sequence[Line]] | None = None,
                 language: str = "en") -> None:  # fmt: skip
        self.script = script or {}
        self.language = language
        self.calls = 0
        self.hints: list[str | Hint] = []

    def warm_up(self) -> None:
        """Nothing to load."""

    def check_language(self, language: str | None) -> None:
        check_whisper_language(language)

    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        progress: ProgressCallback | None = None,
        hints: Sequence[str | Hint] = (),
    ) -> Transcript:
        self.calls += 1
        self.hints = list(hints)
        name = Path(audio.source).name
        if callable(self.script):
            lines = self.script(audio)
        else:
            lines = self.script.get(name, [(0.0, audio.duration, f"Recording {Path(name).stem}.")])
        spoken = language or self.language
        segments = [_segment(min(a, audio.duration), min(b, audio.duration), text, spoken) for a, b, text in lines]
        if progress:
            progress(audio.duration)
        return Transcript(source=audio.source, language=spoken, duration=audio.duration, segments=segments, task=task)


def _segment(start: float, end: float, text: str, language: str) -> Segment:
    words = text.split()
    step = (end - start) / max(len(words), 1)
    timed = tuple(Word(start=start + i * step, end=start + (i + 1) * step, text=w) for i, w in enumerate(words))
    return Segment(start=start, end=end, text=text, language=language, words=timed)


class HashingEmbedder:
    """A deterministic `mediarag.embed.base.Embedder`: each word is hashed into one of
    ``dimension`` buckets, so texts sharing words score high and others near 0."""

    def __init__(self, dimension: int = 64, min_score: float = 0.1) -> None:
        self._dimension = dimension
        self.min_score = min_score

    @property
    def name(self) -> str:
        return f"hashing-{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def warm_up(self) -> None:
        """Nothing to load."""

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, bucket % self._dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out[:, 0] += (norms[:, 0] == 0)  # an empty text still gets a unit vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class ScriptedChat(ChatGenerator):
    """A chat generator whose model always replies ``reply`` (as one piece when streamed); all
    else is `ChatGenerator`'s (prompt, ``[n]`` labels, citations and their moments)."""

    def __init__(self, reply: str, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.reply = reply

    def chat_stream(self, messages: object, *, max_tokens: int, stop: Sequence[str], timeout: float):  # type: ignore[no-untyped-def]
        yield self.reply
