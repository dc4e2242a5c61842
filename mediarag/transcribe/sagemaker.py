"""Whisper on a SageMaker real-time endpoint (default contract: the Hugging Face inference container).

The audio is sent as WAV (16 kHz, mono, 16-bit). A request over the endpoint's payload limit
(6 MB, about three minutes of such audio) is not sent whole: the audio is cut at pauses found by
voice activity detection (the same Silero VAD the local transcriber uses), each piece is sent
on its own, and the times of the pieces' chunks are moved back onto the whole file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from ..aws.clients import AwsConfig
from ..aws.runtime import MAX_PAYLOAD_BYTES, WHISPER_ENDPOINT_ENV, SageMakerEndpoint
from ..errors import ConfigError, ServiceError
from ..media import Audio, wav_bytes
from ..schema import Segment, Task, Transcript
from .base import ProgressCallback
from .languages import check_whisper_language, main_language
from .timing import TimedPiece, timed_segments
from .vad import VadOptions, pack_regions, speech_regions

#: Bytes of a WAV file's header, kept free in every request.
_WAV_HEADER = 64


@dataclass(frozen=True)
class TimedText:
    """One chunk of an endpoint's answer: text with times relative to the audio sent."""

    text: str
    start: float | None
    end: float | None


class WhisperHandler(Protocol):
    """Speaks one Whisper container's contract: WAV bytes in, timed text out."""

    content_type: str
    accept: str

    def serialize(self, wav: bytes, language: str | None, task: Task) -> bytes: ...

    def deserialize(self, body: bytes) -> tuple[list[TimedText], str | None]:
        """The answer's chunks and, when the container reports it, the spoken language."""
        ...


class HuggingFaceWhisperHandler:
    """The Hugging Face inference container's speech recognition pipeline.

    Request: the audio file's bytes. Answer: ``{"text": ..., "chunks": [{"timestamp": [start,
    end], "text": ...}]}`` (chunks when the endpoint was deployed to return timestamps; without
    them the whole text spans the piece). The raw-audio request carries no options, so the
    language and task are those the endpoint was deployed with.
    """

    content_type = "audio/x-audio"
    accept = "application/json"

    def serialize(self, wav: bytes, language: str | None, task: Task) -> bytes:
        if task == "translate":
            raise ConfigError(
                "the Hugging Face Whisper contract cannot ask for translation per request; "
                "deploy an endpoint whose task is translate and use it with task='transcribe'"
            )
        return wav

    def deserialize(self, body: bytes) -> tuple[list[TimedText], str | None]:
        data = json.loads(body)
        if isinstance(data, list):  # some containers wrap the answer in a list
            data = data[0]
        chunks = data.get("chunks")
        if not chunks:
            return [TimedText(str(data.get("text", "")), None, None)], data.get("language")
        timed = []
        for chunk in chunks:
            start, end = (list(chunk.get("timestamp") or []) + [None, None])[:2]
            timed.append(TimedText(str(chunk.get("text", "")), start, end))
        return timed, data.get("language")


class SageMakerWhisperTranscriber:
    """A `mediarag.transcribe.base.Transcriber` over a Whisper SageMaker endpoint.

    Args:
        endpoint: the endpoint's name; ``None`` reads the ``wp_ep_name`` environment variable.
        handler: the container contract (default `HuggingFaceWhisperHandler`).
        config: region, credentials and retries.
        max_payload_bytes: the endpoint's request limit; longer audio is cut at pauses.
        client: a ready ``sagemaker-runtime`` client, instead of one made from ``config``.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        handler: WhisperHandler | None = None,
        config: AwsConfig | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        client: Any = None,
    ) -> None:
        self.endpoint = SageMakerEndpoint.named(
            endpoint, WHISPER_ENDPOINT_ENV, config=config, max_payload_bytes=max_payload_bytes, client=client
        )
        self.handler: WhisperHandler = handler or HuggingFaceWhisperHandler()

    def check_language(self, language: str | None) -> None:
        """`ConfigError` for a language Whisper does not know."""
        check_whisper_language(language)

    def warm_up(self) -> None:
        """Nothing to load; the endpoint is already running."""

    def max_piece_seconds(self, sample_rate: int) -> float:
        """The longest audio one request can carry."""
        return (self.endpoint.max_payload_bytes - _WAV_HEADER) / (2 * sample_rate)

    def pieces(self, audio: Audio) -> list[tuple[float, float]]:
        """The spans sent one per request: the whole file if it fits, else cut at pauses."""
        limit = self.max_piece_seconds(audio.sample_rate)
        if audio.duration <= limit:
            return [(0.0, audio.duration)]
        if limit < 1.0:
            raise ServiceError(self.endpoint.resource, "too_large", "the payload limit is under one second of audio")
        return pack_regions(speech_regions(audio, VadOptions(max_region_seconds=limit)), limit)

    def transcribe(
        self,
        audio: Audio,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        segments: list[Segment] = []
        detected: str | None = None
        for start, end in self.pieces(audio):
            body = self.handler.serialize(wav_bytes(audio.slice(start, end), audio.sample_rate), language, task)
            answer = self.endpoint.invoke(body, self.handler.content_type, self.handler.accept)
            try:
                chunks, spoken = self.handler.deserialize(answer)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise ServiceError(self.endpoint.resource, "invalid", f"unexpected Whisper response: {exc}") from exc
            detected = detected or spoken
            segments += _rebase(chunks, start, end, language or spoken)
            if progress:
                progress(end)
        if progress:
            progress(audio.duration)
        return Transcript(
            source=audio.source,
            language=language or main_language(segments, default=detected or "und"),
            duration=audio.duration,
            segments=segments,
            task=task,
        )


def _rebase(chunks: list[TimedText], offset: float, stop: float, language: str | None) -> list[Segment]:
    """Chunks of one piece as segments of the whole file: times moved by ``offset`` and kept
    in ``[offset, stop]`` (`mediarag.transcribe.timing.timed_segments`)."""
    pieces = [
        TimedPiece(
            offset + c.start if c.start is not None else None, offset + c.end if c.end is not None else None, c.text
        )
        for c in chunks
    ]
    return timed_segments(pieces, start=offset, stop=stop, language=language)
