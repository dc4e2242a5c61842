"""Settings: every knob of the default pipeline, with defaults that work offline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class Settings(BaseModel):
    """Configuration of `mediarag.MediaQA`. Every field has a working offline default.

    Build it from keyword arguments, or from a JSON file with ``Settings.model_validate_json``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    index_dir: Path = Field(Path("mediarag-index"), description="Where the index is stored.")

    # Transcription
    transcriber: Literal["faster-whisper", "transformers", "sagemaker", "aws-transcribe"] = Field(
        "faster-whisper",
        description="'sagemaker': a Whisper endpoint; 'aws-transcribe': Amazon Transcribe (aws extra).",
    )
    whisper_model: str = Field(
        "base", description="'base' (packaged, multilingual), 'tiny.en', a directory or a hub name."
    )
    language: str | None = Field(None, description="Spoken language (ISO 639-1); None detects it.")
    translate_to: Literal["en"] | None = Field(
        None, description="Translate speech to this language at ingest (Whisper: English only)."
    )
    device: str = "cpu"
    compute_type: str = "int8"
    beam_size: int = Field(5, ge=1)
    vad: bool = True
    chunk_length_s: float = Field(20.0, gt=0, description="transformers backend: window length.")
    stride_length_s: float = Field(5.0, ge=0, description="transformers backend: window overlap.")

    # Segmentation
    segmenter: Literal["semantic", "recursive", "window"] = "semantic"
    # Semantic defaults: fine minima (p_size=5, order=2) within 500 characters and 120 s. On spoken
    # XQuAD they tie the best measured chunker within noise (benchmarks/README.md), and unlike the
    # AWS sample's coarser p_size=10/order=5 they keep apart topics that change every sentence or
    # two (ten unrelated clips in a row, tests/data/fleurs_en_concat.ogg).
    p_size: int = Field(5, ge=1, description="semantic: similarities weighted after each sentence.")
    order: int = Field(2, ge=1, description="semantic: neighbours a split point must be below.")
    split_below: float | None = Field(
        None,
        description="semantic: also split between consecutive sentences less similar than this "
        "(on the embedder's scale: multilingual-e5's unrelated sentences score ~0.8, MiniLM's ~0.1).",
    )
    min_passage_seconds: float = Field(0.0, ge=0)
    max_passage_seconds: float = Field(120.0, gt=0)
    min_passage_chars: int = Field(0, ge=0)
    max_passage_chars: int = Field(500, gt=0)
    chunk_size: int = Field(500, gt=0, description="recursive: characters per chunk.")
    chunk_overlap: int = Field(0, ge=0, description="recursive: characters shared by neighbours.")
    window_seconds: float = Field(30.0, gt=0, description="window: length of each window.")
    window_overlap: float = Field(5.0, ge=0, description="window: seconds shared by neighbours.")

    # Retrieval and answers
    embedder_model: str = Field(
        "multilingual-e5-small",
        description="'multilingual-e5-small' (packaged, ~100 languages in one space: English "
        "questions find Spanish or German speech), 'all-MiniLM-L6-v2' (packaged, English only), "
        "'sagemaker:<endpoint>' (or 'sagemaker' to read embed_ep_name; aws extra), or any "
        "sentence-transformers directory or hub name.",
    )
    k: int = Field(4, ge=1, description="Passages retrieved per question.")
    min_score: float | None = Field(
        None,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity below which a passage is ignored; None uses the "
        "embedder's own measured threshold (0.78 for multilingual-e5-small, 0.35 for MiniLM).",
    )
    generator: Literal["extractive", "local", "openai", "sagemaker"] = Field(
        "extractive",
        description="'extractive' (sentences of the passages, no model), 'local' (a GGUF model "
        "through llama-cpp-python, needs the llm extra), 'openai' (an OpenAI-compatible "
        "endpoint) or 'sagemaker'.",
    )

    # AWS (the aws extra): names left None come from the AWS sample's environment variables.
    whisper_endpoint: str | None = Field(None, description="Whisper endpoint; else $wp_ep_name.")
    generator_endpoint: str | None = Field(None, description="LLM endpoint; else $falcon_ep_name.")
    aws_region: str | None = Field(None, description="AWS region; None uses the standard chain.")
    aws_profile: str | None = Field(None, description="AWS profile; None uses the standard chain.")
    aws_staging_url: str | None = Field(
        None, description="aws-transcribe: s3:// prefix for uploaded audio and transcription results."
    )
    transcribe_language_options: list[str] | None = Field(
        None, description="aws-transcribe: languages identification chooses among, e.g. ['en-US', 'es-ES']."
    )
    transcribe_multiple_languages: bool = Field(
        False, description="aws-transcribe: identify several languages in one file."
    )
    index_url: str | None = Field(
        None, description="Keep the index at this s3:// prefix (index_dir is then unused)."
    )
    transcripts_url: str | None = Field(
        None, description="Also write each ingested file's transcript and passages under this s3:// prefix."
    )

    @field_validator("aws_staging_url", "index_url", "transcripts_url")
    @classmethod
    def _s3_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith("s3://"):
            raise ValueError(f"expected an s3://bucket/prefix URL, got {value!r}")
        return value

    # LLM generators (local, openai)
    llm_model: str | None = Field(
        None,
        description="local: 'qwen2.5-0.5b' (default, packaged), 'qwen2.5-1.5b', 'smollm2-135m', a "
        ".gguf file or a hub repository; openai: the endpoint's model name (default $OPENAI_MODEL).",
    )
    llm_context_window: int = Field(4096, ge=256, description="Tokens of prompt and answer together.")
    llm_max_tokens: int = Field(256, ge=1, description="Longest answer, in tokens.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    llm_stop: list[str] = Field(default_factory=list, description="Extra stop sequences.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds one answer may take.")
    llm_threads: int | None = Field(None, ge=1, description="local: CPU threads (default: all).")
    openai_base_url: str | None = Field(
        None, description="openai: API root such as http://localhost:11434/v1 (default $OPENAI_BASE_URL)."
    )
    openai_api_key: SecretStr | None = Field(None, description="openai: default $OPENAI_API_KEY.")

    # Conversations
    memory_turns: int = Field(
        4, ge=0, description="Question-answer turns a conversation remembers (older ones drop)."
    )

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is None or value.lower() == "auto":
            return None
        return value.lower()
