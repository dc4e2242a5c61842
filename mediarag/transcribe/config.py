"""`TranscriptionConfig`: how speech is turned into text (the ``transcription`` settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ConfigError
from ..schema import Task

Backend = Literal["faster-whisper", "transformers", "sagemaker", "aws-transcribe"]


class TranscriptionConfig(BaseModel):
    """Which transcriber runs, and its options (`mediarag.transcribe.make_transcriber`)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    backend: Backend = Field(
        "faster-whisper",
        description="'faster-whisper' (default), 'transformers' (the transformers extra), "
        "'sagemaker' (a Whisper endpoint) or 'aws-transcribe' (Amazon Transcribe; aws extra).",
    )
    model: str = Field("base", description="'base' (packaged, multilingual), 'tiny.en', a directory or a hub name.")
    language: str | None = Field(None, description="Spoken language (ISO 639-1); None detects it.")
    translate_to: Literal["en"] | None = Field(
        None, description="Translate speech to this language at ingest (Whisper: English only)."
    )
    device: str = Field("cpu", description="'cpu', 'cuda' or 'auto'.")
    compute_type: str = Field("int8", description="faster-whisper: CTranslate2 compute type.")
    beam_size: int = Field(5, ge=1)
    vad: bool = Field(True, description="Skip non-speech with Silero VAD.")
    batch_size: int | None = Field(
        None, ge=1, description="Windows decoded together; None: the backend's default (faster-whisper 8; "
        "transformers 'vad' 8 on a CPU, 32 on a GPU; 'chunks' 1).",
    )
    batch_linger: float | None = Field(
        None, ge=0, description="transformers 'vad': seconds the model waits for a full batch of windows "
        "from files transcribed at once; None: 1.5 on a GPU, 0 on a CPU.",
    )
    windows: Literal["chunks", "vad"] = Field(
        "chunks",
        description="transformers: 'vad' (batched VAD-cut windows of up to 30 s, word timestamps, "
        "language per window: the GPU path) or 'chunks' (the AWS sample's pipeline: chunk_length_s "
        "with stride_length_s).",
    )
    chunk_length_s: float = Field(20.0, gt=0, description="transformers: window length.")
    stride_length_s: float = Field(5.0, ge=0, description="transformers: window overlap.")
    endpoint: str | None = Field(None, description="sagemaker: Whisper endpoint; else $wp_ep_name.")
    staging_url: str | None = Field(
        None, description="aws-transcribe: s3:// prefix for uploaded audio and transcription results."
    )
    language_options: list[str] | None = Field(
        None, description="aws-transcribe: languages identification chooses among, e.g. ['en-US', 'es-ES']."
    )
    multiple_languages: bool = Field(False, description="aws-transcribe: identify several languages in one file.")
    speaker_labels: bool = Field(
        True, description="aws-transcribe: label the speakers (ShowSpeakerLabels); the speaker stage keeps them."
    )
    max_speaker_labels: int = Field(10, ge=2, le=30, description="aws-transcribe: the most speakers it tells apart.")
    vocabulary: list[str] = Field(
        default_factory=list,
        description="faster-whisper: terms (product names, jargon) the speech may contain, given to "
        "Whisper as hotwords so they are spelled right (`mediarag.transcribe.hints.read_vocabulary` reads a file).",
    )

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is None or value.lower() == "auto":
            return None
        return value.lower()

    @field_validator("staging_url")
    @classmethod
    def _s3(cls, value: str | None) -> str | None:
        from ..links import check_s3_url

        return check_s3_url(value)


def translation_task(translate_to: str | None) -> Task:
    """The Whisper task for a ``translate_to`` setting: ``transcribe``, or ``translate`` for 'en'."""
    if translate_to is None:
        return "transcribe"
    if translate_to.lower() != "en":
        raise ConfigError(f"translate_to={translate_to!r}: Whisper translates only to English ('en')")
    return "translate"
