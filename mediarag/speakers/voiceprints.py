"""Voiceprints: names for voices, enrolled from a clip and kept in the index.

A voiceprint is the L2-normalised mean of the speaker embeddings of a clip's speech: a vector,
never the audio. It is personal data (it identifies a person's voice), so it is kept in one
place only, the index's ``speakers.json`` (`VoiceprintStore`), and ``mediarag speakers forget``
removes it and the name from everything stored. The file is JSON, checked on load: one that is
damaged, or made with another speaker encoder, is refused with an error naming it; nothing in
it is ever executed (no pickle).

At ingest a voice takes the name of the most similar voiceprint when their cosine similarity
reaches the encoder's measured threshold (`mediarag.speakers.config.NAME_THRESHOLDS`); each
name goes to at most one voice of a file (`match_names`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, IndexStoreError, MediaError
from ..links import is_s3_url

if TYPE_CHECKING:
    from ..aws.clients import AwsConfig
    from .diarize import DiarizationConfig, Embedded
    from .encoders import SpeakerEncoder

#: The file, in the index directory (or under the index's s3:// prefix).
VOICEPRINTS_FILE = "speakers.json"
#: The least speech an enrollment clip must hold.
MIN_ENROLL_SECONDS = 3.0
#: A second voice with at least this much speech makes a clip unusable for enrollment.
SECOND_VOICE_SECONDS = 1.0
_LABEL = re.compile(r"SPEAKER_\d+")


def check_name(name: str) -> str:
    """A name for a voice, stripped; `ConfigError` for an empty one, one too long, one with
    control characters or angle brackets, or one that looks like a per-file label."""
    text = " ".join(str(name).split())
    if not text:
        raise ConfigError("a speaker's name cannot be empty")
    if len(text) > 80:
        raise ConfigError(f"a speaker's name is at most 80 characters, got {len(text)}: {text[:40]!r}...")
    if any(ord(c) < 32 or c in "<>\"" for c in text):
        raise ConfigError(f"a speaker's name cannot hold control characters, angle brackets or quotes: {text!r}")
    if _LABEL.fullmatch(text):
        raise ConfigError(f"{text!r} looks like a per-file label; give the speaker a name")
    return text


def is_label(name: str | None) -> bool:
    """Whether ``name`` is a per-file label (``SPEAKER_01``) rather than a name."""
    return bool(name and _LABEL.fullmatch(name))


class Voiceprint(BaseModel):
    """One enrolled voice."""

    model_config = ConfigDict(extra="forbid")

    name: str
    encoder: str
    dimension: int = Field(gt=0)
    vector: list[float]
    seconds: float = Field(ge=0, description="Seconds of speech it was made from.")
    clip: str = Field("", description="The file name of the enrollment clip.")
    created: str = ""

    @model_validator(mode="after")
    def _unit_vector(self) -> Voiceprint:
        if len(self.vector) != self.dimension:
            raise ValueError(f"voiceprint {self.name!r} has {len(self.vector)} values, not {self.dimension}")
        if not all(math.isfinite(v) for v in self.vector):
            raise ValueError(f"voiceprint {self.name!r} holds NaN or infinite values")
        norm = math.sqrt(sum(v * v for v in self.vector))
        if not 0.9 < norm < 1.1:
            raise ValueError(f"voiceprint {self.name!r} is not a unit vector (norm {norm:.3f})")
        return self

    @property
    def array(self) -> np.ndarray:
        return np.asarray(self.vector, dtype=np.float32)


class VoiceprintBook(BaseModel):
    """``speakers.json``: every voiceprint of an index."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["mediarag-voiceprints"] = "mediarag-voiceprints"
    version: Literal[1] = 1
    voiceprints: list[Voiceprint] = Field(default_factory=list)

    @field_validator("voiceprints")
    @classmethod
    def _unique(cls, prints: list[Voiceprint]) -> list[Voiceprint]:
        names = [p.name for p in prints]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"names enrolled twice: {twice}")
        return prints

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.voiceprints]

    def get(self, name: str) -> Voiceprint | None:
        return next((p for p in self.voiceprints if p.name == name), None)

    def for_encoder(self, encoder: str, dimension: int, where: str) -> list[Voiceprint]:
        """The voiceprints, all of which must come from ``encoder`` (``IndexStoreError`` naming
        ``where`` otherwise: vectors of another encoder cannot be compared)."""
        for p in self.voiceprints:
            if p.encoder != encoder or p.dimension != dimension:
                raise IndexStoreError(
                    f"{where}: voiceprint {p.name!r} was made by speaker encoder {p.encoder!r} ({p.dimension}-d), "
                    f"not {encoder!r} ({dimension}-d); forget it and enroll it again, or set speakers.encoder to {p.encoder!r}"
                )
        return list(self.voiceprints)


class VoiceprintStore:
    """The voiceprints of the index at ``location`` (a directory or an ``s3://`` prefix)."""

    def __init__(self, location: str | Path, aws: AwsConfig | None = None) -> None:
        self.location = str(location)
        self.aws = aws
        self.where = (
            f"{self.location.rstrip('/')}/{VOICEPRINTS_FILE}" if is_s3_url(self.location)
            else str(Path(self.location) / VOICEPRINTS_FILE)
        )  # fmt: skip

    def load(self) -> VoiceprintBook:
        """The voiceprints (none when the file does not exist); `IndexStoreError` naming the
        file when it is damaged or not a voiceprint file."""
        data = self._read()
        if data is None:
            return VoiceprintBook()
        try:
            return VoiceprintBook.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "file"
            raise IndexStoreError(
                f"{self.where}: not a valid voiceprint file ({where}: {first.get('msg')}); nothing was read from it. "
                "Fix or delete it and enroll the voices again"
            ) from None

    def save(self, book: VoiceprintBook) -> None:
        """Write the voiceprints, whole or not at all."""
        data = book.model_dump_json(indent=1).encode("utf-8")
        if is_s3_url(self.location):
            from ..aws.s3 import S3

            S3(self.aws).put(self.where, data, "application/json")
            return
        from ..files import write_atomic

        directory = Path(self.location)
        if not directory.is_dir():
            raise IndexStoreError(f"no index at {directory}: ingest files before enrolling voices")
        write_atomic(directory / VOICEPRINTS_FILE, data)

    def _read(self) -> bytes | None:
        if is_s3_url(self.location):
            from ..aws.s3 import S3

            return S3(self.aws).get_if_exists(self.where)
        try:
            return Path(self.where).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IndexStoreError(f"{self.where}: cannot read voiceprints: {exc.strerror}") from exc


def voiceprint_of(embedded: Embedded) -> np.ndarray:
    """The voiceprint of some speech: the L2-normalised mean of its windows' embeddings."""
    mean = np.asarray(embedded.embeddings, dtype=np.float64).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def enroll_clip(
    name: str, path: str | Path, encoder: SpeakerEncoder, config: DiarizationConfig
) -> Voiceprint:
    """A voiceprint of the one voice in a clip. `MediaError` naming the file when it cannot be
    read, holds no speech, less than `MIN_ENROLL_SECONDS` of it, or more than one voice."""
    from ..media import decode_audio
    from .diarize import embed_speech, label_speakers
    from .speech import detect_speech

    name = check_name(name)
    audio = decode_audio(path)
    regions = detect_speech(audio.samples, config.speech)
    speech = sum(b - a for a, b in regions)
    source = str(path)
    need = f"an enrollment clip needs at least {MIN_ENROLL_SECONDS:g} s of one voice"
    if speech == 0:
        raise MediaError(source, f"no speech found: {need}")
    if speech < MIN_ENROLL_SECONDS:
        raise MediaError(source, f"only {speech:.1f} s of speech: {need}")
    embedded = embed_speech(audio.samples, encoder, config, regions=regions)
    if len(embedded.embeddings) == 0:
        raise MediaError(source, f"no stretch of speech long enough to embed: {need}")
    voices = [v for v in label_speakers(embedded, config).voices if v.seconds >= SECOND_VOICE_SECONDS]
    if len(voices) > 1:
        heard = ", ".join(f"{v.seconds:.1f} s" for v in voices)
        raise MediaError(source, f"holds {len(voices)} voices ({heard} of speech): an enrollment clip must hold one voice only")
    vector = voiceprint_of(embedded)
    return Voiceprint(
        name=name,
        encoder=encoder.name,
        dimension=int(vector.shape[0]),
        vector=[round(float(v), 6) for v in vector],
        seconds=round(speech, 2),
        clip=Path(source).name,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def match_names(
    centroids: dict[str, np.ndarray], prints: Sequence[Voiceprint], threshold: float, taken: Iterable[str] = ()
) -> dict[str, str]:
    """A name for each voice (by label) whose centroid reaches ``threshold`` with a voiceprint:
    the most similar pairs first, each name to one voice at most, names in ``taken`` to none."""
    used = set(taken)
    pairs = sorted(
        ((float(np.dot(vector, p.array)), label, p.name) for label, vector in centroids.items() for p in prints),
        reverse=True,
    )
    named: dict[str, str] = {}
    for similarity, label, name in pairs:
        if similarity < threshold:
            break
        if label not in named and name not in used:
            named[label] = name
            used.add(name)
    return named
