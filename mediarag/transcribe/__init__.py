"""Transcribers: turn audio into a timestamped transcript.

`make_transcriber` builds the one a `TranscriptionConfig` names; the backends that need torch or
boto3 are imported only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import ProgressCallback, Transcriber
from .config import TranscriptionConfig
from .faster_whisper import FasterWhisperTranscriber

if TYPE_CHECKING:
    from ..aws.clients import AwsConfig

__all__ = [
    "FasterWhisperTranscriber",
    "ProgressCallback",
    "Transcriber",
    "TranscriptionConfig",
    "TransformersTranscriber",
    "make_transcriber",
]


def make_transcriber(config: TranscriptionConfig | None = None, aws: AwsConfig | None = None) -> Transcriber:
    """The transcriber ``config`` describes (not loaded yet: see ``warm_up``)."""
    config = config or TranscriptionConfig()
    if config.backend == "sagemaker":
        from .sagemaker import SageMakerWhisperTranscriber

        return SageMakerWhisperTranscriber(config.endpoint, config=aws)
    if config.backend == "aws-transcribe":
        from .aws_transcribe import AmazonTranscriber

        if config.staging_url is None:
            raise ConfigError("transcriber 'aws-transcribe' needs aws_staging_url (an s3:// prefix)")
        return AmazonTranscriber(
            config.staging_url,
            language_options=config.language_options,
            multiple_languages=config.multiple_languages,
            speaker_labels=config.speaker_labels,
            max_speakers=config.max_speaker_labels,
            config=aws,
        )
    if config.backend == "transformers":
        from .transformers import TransformersTranscriber

        return TransformersTranscriber(
            config.model,
            device=config.device,
            chunk_length_s=config.chunk_length_s,
            stride_length_s=config.stride_length_s,
            batch_size=config.batch_size,
            batch_linger=config.batch_linger,
            windows=config.windows,
            beam_size=config.beam_size,
        )
    return FasterWhisperTranscriber(
        config.model,
        device=config.device,
        compute_type=config.compute_type,
        beam_size=config.beam_size,
        vad=config.vad,
        vocabulary=config.vocabulary,
        **({"batch_size": config.batch_size} if config.batch_size else {}),
    )


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name == "TransformersTranscriber":  # needs torch: imported on first use
        from .transformers import TransformersTranscriber

        return TransformersTranscriber
    raise AttributeError(name)
