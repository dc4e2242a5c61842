"""Settings: every knob of the pipeline, grouped by the component that owns it.

Each group is the configuration class of its component (`TranscriptionConfig` beside the
transcribers, `SegmentationConfig` beside the segmenters, ...), and each component's factory
builds it from its group alone. The flat names of earlier releases (``whisper_model``,
``k``, ``llm_model``...) are still accepted as keyword arguments, in JSON files and as
attributes, so existing code and configuration keep working.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .aws.clients import AwsConfig
from .embed.config import EmbeddingConfig
from .generate.config import GenerationConfig
from .links import check_s3_url, is_s3_url
from .retrieve.config import RetrievalConfig
from .screen.config import ScreenConfig
from .segment.config import SegmentationConfig
from .speakers.config import SpeakerConfig
from .transcribe.config import TranscriptionConfig


class ConversationConfig(BaseModel):
    """Options of `mediarag.Conversation`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    memory_turns: int = Field(
        4, ge=0, description="Question-answer turns a conversation remembers (older ones drop)."
    )


#: The flat names of earlier releases, and the group field each one now is.
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "transcriber": ("transcription", "backend"),
    "whisper_model": ("transcription", "model"),
    "language": ("transcription", "language"),
    "translate_to": ("transcription", "translate_to"),
    "device": ("transcription", "device"),
    "compute_type": ("transcription", "compute_type"),
    "beam_size": ("transcription", "beam_size"),
    "vad": ("transcription", "vad"),
    "chunk_length_s": ("transcription", "chunk_length_s"),
    "stride_length_s": ("transcription", "stride_length_s"),
    "whisper_endpoint": ("transcription", "endpoint"),
    "aws_staging_url": ("transcription", "staging_url"),
    "transcribe_language_options": ("transcription", "language_options"),
    "transcribe_multiple_languages": ("transcription", "multiple_languages"),
    "segmenter": ("segmentation", "method"),
    **{
        name: ("segmentation", name)
        for name in (
            "p_size", "order", "split_below", "min_passage_seconds", "max_passage_seconds",
            "min_passage_chars", "max_passage_chars", "chunk_size", "chunk_overlap",
            "window_seconds", "window_overlap",
        )
    },  # fmt: skip
    "embedder_model": ("embedding", "model"),
    "k": ("retrieval", "k"),
    "min_score": ("retrieval", "min_score"),
    "generator": ("generation", "backend"),
    "llm_model": ("generation", "model"),
    "llm_context_window": ("generation", "context_window"),
    "llm_max_tokens": ("generation", "max_tokens"),
    "llm_temperature": ("generation", "temperature"),
    "llm_stop": ("generation", "stop"),
    "llm_timeout": ("generation", "timeout"),
    "llm_threads": ("generation", "threads"),
    "openai_base_url": ("generation", "openai_base_url"),
    "openai_api_key": ("generation", "openai_api_key"),
    "generator_endpoint": ("generation", "endpoint"),
    "aws_region": ("aws", "region"),
    "aws_profile": ("aws", "profile"),
    "memory_turns": ("conversation", "memory_turns"),
}


class Settings(BaseModel):
    """Configuration of `mediarag.MediaQA`. Every field has a working offline default.

    Build it from keyword arguments (grouped, ``Settings(transcription={"model": "tiny.en"})``,
    or by their flat names, ``Settings(whisper_model="tiny.en")``), or from a JSON file with
    ``Settings.model_validate_json``. `replace` gives a changed, validated copy.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    index_dir: Path = Field(Path("mediarag-index"), description="Where the index is stored.")
    index_url: str | None = Field(
        None, description="Keep the index at this s3:// prefix (index_dir is then unused)."
    )
    transcripts_url: str | None = Field(
        None, description="Also write each ingested file's transcript and passages under this s3:// prefix."
    )
    transcription: TranscriptionConfig = Field(default_factory=TranscriptionConfig)
    segmentation: SegmentationConfig = Field(default_factory=SegmentationConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    aws: AwsConfig = Field(default_factory=AwsConfig, description="Region, profile and retries of the AWS clients.")
    conversation: ConversationConfig = Field(default_factory=ConversationConfig)
    speakers: SpeakerConfig = Field(
        default_factory=SpeakerConfig, description="Who speaks when, and by what name (the speaker stage)."
    )
    screen: ScreenConfig = Field(
        default_factory=ScreenConfig, description="Text read on screen in videos (the screen stage)."
    )
    stages: list[str] | None = Field(
        None,
        description="The registered pipeline stages to run besides the core ones (speakers, "
        "screen text...); None runs those on by default (`mediarag.pipeline.registered_stages`).",
    )

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_names(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not any(key in FLAT_NAMES for key in data):
            return data
        data = dict(data)
        for flat, (group, name) in FLAT_NAMES.items():
            if flat in data:
                fields = _as_dict(data.get(group))
                fields[name] = data.pop(flat)
                data[group] = fields
        return data

    @field_validator("retrieval", mode="before")
    @classmethod
    def _retrieval_mode(cls, value: Any) -> Any:
        # Settings(retrieval="keyword") names the mode (the spelling of the option).
        return {"mode": value} if isinstance(value, str) else value

    @field_validator("index_url", "transcripts_url")
    @classmethod
    def _s3_url(cls, value: str | None) -> str | None:
        return check_s3_url(value)

    @property
    def location(self) -> str:
        """Where the index is: the ``s3://`` URL when there is one, else the directory."""
        return self.index_url or str(self.index_dir)

    @classmethod
    def at(cls, location: str | Path, **changes: Any) -> Settings:
        """Settings for the index at ``location``: an ``s3://`` prefix or a directory."""
        where = {"index_url": str(location)} if is_s3_url(location) else {"index_dir": Path(location)}
        return cls(**where, **changes)

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` (flat or grouped names); ``ValueError`` if invalid."""
        return type(self).model_validate({**self.model_dump(), **changes})

    @classmethod
    def names(cls) -> set[str]:
        """Every name a `Settings` takes: its fields and the flat names of earlier releases."""
        return set(cls.model_fields) | set(FLAT_NAMES)


def _as_dict(group: Any) -> dict[str, Any]:
    if group is None:
        return {}
    if isinstance(group, str):  # retrieval="keyword"
        return {"mode": group}
    if isinstance(group, BaseModel):
        return dict(group)
    if dataclasses.is_dataclass(group) and not isinstance(group, type):
        return {f.name: getattr(group, f.name) for f in dataclasses.fields(group)}
    return dict(group)


def _flat_property(flat: str, group: str, name: str) -> property:
    def get(self: Settings) -> Any:
        return getattr(getattr(self, group), name)

    def set_(self: Settings, value: Any) -> None:
        part = getattr(self, group)
        if dataclasses.is_dataclass(part):  # frozen: replaced whole
            setattr(self, group, dataclasses.replace(part, **{name: value}))
        else:
            setattr(part, name, value)

    return property(get, set_, doc=f"The earlier flat name of ``{group}.{name}``.")


for _flat, (_group, _name) in FLAT_NAMES.items():
    setattr(Settings, _flat, _flat_property(_flat, _group, _name))
