"""The core stages of the per-file path: decode, transcribe, sentences, passages, embed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..media import Audio, decode_audio
from ..progress import progress_bar
from ..schema import Chunk, Segment
from ..sentences import merge_sentences
from ..transcribe.hints import accepts_hints
from .item import MediaFile

if TYPE_CHECKING:
    from ..embed.base import Embedder
    from ..segment.base import Segmenter
    from ..transcribe.base import Transcriber


class Decode:
    """Decodes the file's first audio stream to 16 kHz mono (``decoder``: by default
    `mediarag.media.decode_audio`; an engine may hand it to another process); what went wrong
    in a damaged but playable file becomes a warning."""

    name = "decode"

    def __init__(self, decoder: Callable[[Path], Audio] = decode_audio) -> None:
        self.decoder = decoder

    def warm_up(self) -> None:
        """Nothing to load."""

    def run(self, item: MediaFile) -> None:
        item.audio = self.decoder(item.path)
        item.warnings += list(getattr(item.audio, "warnings", ()))


class Transcribe:
    """Transcribes the decoded audio, showing progress (a bar, and ``item.progress``); the
    file's hints (`MediaFile.hints`) go to a transcriber that takes them."""

    name = "transcribe"

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber

    def warm_up(self) -> None:
        self.transcriber.warm_up()

    def run(self, item: MediaFile) -> None:
        audio = item.audio
        if audio is None:
            raise ValueError(f"{item.source}: the transcribe stage needs the decode stage first")
        duration = audio.duration
        report = item.progress
        with progress_bar(total=round(duration, 1), desc=f"Transcribing {item.path.name}", unit="s") as bar:

            def advance(done: float) -> None:
                bar.update(max(0.0, round(done, 1) - bar.n))
                if report is not None:
                    report(item.source, min(done, duration), duration)

            if report is not None:
                report(item.source, 0.0, duration)
            hints = {"hints": list(item.hints)} if item.hints and accepts_hints(self.transcriber) else {}
            item.transcript = self.transcriber.transcribe(
                audio, language=item.language, task=item.task, progress=advance, **hints
            )
            if report is not None:
                report(item.source, duration, duration)


class Sentences:
    """Rebuilds whole sentences, timed by their words, from the transcriber's fragments."""

    name = "sentences"

    def warm_up(self) -> None:
        """Nothing to load."""

    def run(self, item: MediaFile) -> None:
        transcript = item.transcript
        item.sentences = merge_sentences(transcript.segments, duration=transcript.duration) if transcript else []


class Passages:
    """Groups sentences into passages with the segmenter; each passage keeps its sentences
    (their own times, without words) and its speaker when one speaker says all of it. Timed
    evidence of other kinds (text on screen) becomes passages of its own kind."""

    name = "passages"

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter

    def warm_up(self) -> None:
        self.segmenter.warm_up()

    def run(self, item: MediaFile) -> None:
        spans = self.segmenter.split(item.sentences) if item.sentences else []
        chunks = [self._speech(item, i, span) for i, span in enumerate(spans)]
        chunks += [self._evidence(item, len(chunks) + i, e) for i, e in enumerate(item.evidence)]
        item.passages = chunks

    @staticmethod
    def _speech(item: MediaFile, index: int, span: Segment) -> Chunk:
        sentences = tuple(s.model_copy(update={"words": ()}) for s in item.sentences if _inside(s, span))
        speakers = {s.speaker for s in sentences}
        return Chunk(
            id=passage_id(item, index),
            source=item.source,
            start=span.start,
            end=span.end,
            text=span.text,
            language=span.language,
            original_text=span.original_text,
            speaker=speakers.pop() if len(speakers) == 1 else None,
            sentences=sentences,
        )

    @staticmethod
    def _evidence(item: MediaFile, index: int, evidence: Segment) -> Chunk:
        return Chunk(
            id=passage_id(item, index),
            source=item.source,
            start=evidence.start,
            end=evidence.end,
            text=evidence.text,
            language=evidence.language,
            kind=evidence.kind,
            speaker=evidence.speaker,
            sentences=(evidence.model_copy(update={"words": ()}),),
        )


class Embed:
    """Embeds every passage (one unit-length row each)."""

    name = "embed"

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def run(self, item: MediaFile) -> None:
        texts = [c.text for c in item.passages]
        item.vectors = self.embedder.embed_passages(texts) if texts else np.zeros((0, self.embedder.dimension), np.float32)


def passage_id(item: MediaFile, index: int) -> str:
    """The id of a file's ``index``-th passage: stable for the same content."""
    return f"{item.id_prefix}{item.sha256[:16]}-{index:05d}"


def _inside(sentence: Segment, span: Segment) -> bool:
    """Whether a sentence belongs to a passage: it overlaps the passage's span (a sentence of
    no length, when it lies within it)."""
    if sentence.end > sentence.start:
        return min(sentence.end, span.end) > max(sentence.start, span.start)
    return span.start <= sentence.start <= span.end
