"""`MediaFile`: one file on its way through the pipeline, and what each stage made of it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..schema import SCREEN, Chunk, Segment, SourceInfo, Task, Transcript

if TYPE_CHECKING:
    import numpy as np

    from ..media import Audio
    from ..progress import FileProgress
    from ..transcribe.hints import Hint


@dataclass
class MediaFile:
    """A file the pipeline works on. Each stage reads what the earlier ones left and adds its
    own part; `mediarag.pipeline.Pipeline.run` passes it through them in order.

    Attributes:
        path: the local file to read.
        source: the name it is indexed and cited under (a path or a URL).
        sha256: the file's content hash.
        language: the spoken language, or None to detect it.
        task: ``transcribe`` or ``translate`` (to English).
        id_prefix: put before passage ids (files added to one conversation use ``conv-``).
        progress: told how many seconds of audio are transcribed (`FileProgress`).
        audio: the decoded audio (decode stage; released when the file is done).
        transcript: the transcriber's fragments (transcribe stage; enrich stages may label them).
        hints: words that help recognition: a string for the whole file, a
            `mediarag.transcribe.hints.Hint` for the seconds it is on screen (screen stage).
        evidence: timed text found besides speech, with its ``kind`` (``screen``...).
        sentences: the transcript's sentences with their times (sentences stage).
        passages: what is embedded and indexed (passages stage).
        vectors: one unit-length row per passage (embed stage).
        warnings: what went wrong without stopping the file (a damaged tail, a stage that failed).
        extras: anything else a stage wants to hand to a later one.
    """

    path: Path
    source: str
    sha256: str
    language: str | None = None
    task: Task = "transcribe"
    id_prefix: str = ""
    progress: FileProgress | None = None
    audio: Audio | None = None
    transcript: Transcript | None = None
    hints: list[str | Hint] = field(default_factory=list)
    evidence: list[Segment] = field(default_factory=list)
    sentences: list[Segment] = field(default_factory=list)
    passages: list[Chunk] = field(default_factory=list)
    vectors: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Seconds of audio (0 before the file is decoded)."""
        if self.transcript is not None:
            return self.transcript.duration
        return self.audio.duration if self.audio is not None else 0.0

    def stored_transcript(self) -> Transcript:
        """The transcript as an index or a conversation keeps it: its sentences, without words."""
        if self.transcript is None:
            raise ValueError(f"{self.source} has not been transcribed")
        segments = [s.model_copy(update={"words": ()}) for s in self.sentences]
        screen = [e.model_copy(update={"words": ()}) for e in self.evidence if e.kind == SCREEN]
        return self.transcript.model_copy(update={"source": self.source, "segments": segments, "screen": screen})

    def info(self) -> SourceInfo:
        """What the index records about the file."""
        if self.transcript is None:
            raise ValueError(f"{self.source} has not been transcribed")
        return SourceInfo(
            source=self.source,
            sha256=self.sha256,
            duration=self.transcript.duration,
            language=self.transcript.language,
            languages=self.transcript.languages if self.transcript.segments else [],
            chunks=len(self.passages),
            task=self.task,
            kinds=dict(Counter(c.kind for c in self.passages)),
        )
