"""The data model every part of mediarag shares.

Times are seconds from the start of the media file, as floats. Every timed object keeps
``0 <= start <= end``; a `Transcript` also keeps its segments within ``[0, duration]``.
All types are pydantic v2 models, so they validate on construction and serialize to JSON with
``model_dump_json()``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["transcribe", "translate"]

#: Tolerance, in seconds, for float rounding when checking that spans lie within a duration.
TIME_EPSILON = 1e-3


class _Timed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: float = Field(ge=0.0, description="Start time in seconds.")
    end: float = Field(ge=0.0, description="End time in seconds.")

    @model_validator(mode="after")
    def _start_before_end(self) -> _Timed:
        if self.start > self.end:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        return self

    @property
    def duration(self) -> float:
        return self.end - self.start


#: What a passage holds: ``speech`` (a transcript) or ``screen`` (text read off the video).
SPEECH = "speech"
SCREEN = "screen"


class Word(_Timed):
    """One recognised word with its time span, the model's confidence and, once the speaker
    stage has run, who said it."""

    text: str
    probability: float = 1.0
    speaker: str | None = None


class Segment(_Timed):
    """A timed piece of evidence: a transcriber's fragment, a sentence, or a passage before
    indexing; or, with another ``kind``, text a stage found elsewhere (on screen).

    ``original_text`` holds the text in the spoken language when ``text`` is a translation.
    ``speaker`` is a per-file label (``SPEAKER_00``...) or an enrolled name.
    """

    text: str
    language: str | None = None
    original_text: str | None = None
    words: tuple[Word, ...] = ()
    speaker: str | None = None
    kind: str = SPEECH


class Speaker(BaseModel):
    """A voice heard in one file: its per-file label (``SPEAKER_00``... in order of first
    appearance), the name it goes by (enrolled, or given by a user) and, to re-label the file
    later without transcribing it again, the mean embedding of its speech (a voiceprint of this
    file only: personal data, kept in the index alone)."""

    model_config = ConfigDict(extra="forbid")

    label: str
    name: str | None = None
    named_by: Literal["enrollment", "user"] | None = None
    seconds: float = Field(0.0, ge=0.0, description="Seconds of speech in its turns.")
    encoder: str | None = Field(None, description="The speaker encoder the centroid comes from.")
    centroid: list[float] = Field(default_factory=list)

    @property
    def display(self) -> str:
        """What segments, passages and citations call it: its name, else its label."""
        return self.name or self.label


class Transcript(BaseModel):
    """Everything said in one media file, in order."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="The media file's path or URL.")
    language: str = Field(description="The main spoken language (ISO 639-1), e.g. 'en'.")
    duration: float = Field(ge=0.0, description="Length of the audio in seconds.")
    segments: list[Segment] = Field(default_factory=list)
    task: Task = "transcribe"
    speakers: list[Speaker] = Field(
        default_factory=list, description="The voices the speaker stage found (empty without it)."
    )
    screen: list[Segment] = Field(
        default_factory=list,
        description="Text read on screen (kind 'screen'), from when it appears to when it goes; "
        "empty for audio and for transcripts stored before it was kept.",
    )

    @model_validator(mode="after")
    def _segments_within_duration(self) -> Transcript:
        limit = self.duration + TIME_EPSILON
        for seg in self.segments:
            if seg.end > limit:
                raise ValueError(
                    f"segment {seg.start:.2f}-{seg.end:.2f}s ends after the audio ({self.duration:.2f}s)"
                )
        return self

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments)

    @property
    def languages(self) -> list[str]:
        """Spoken languages in order of first appearance."""
        seen: dict[str, None] = {}
        for seg in self.segments:
            if seg.language:
                seen.setdefault(seg.language, None)
        return list(seen) or [self.language]


class Chunk(_Timed):
    """A passage of one file that is embedded and indexed as a unit.

    ``sentences`` are its sentences with their own times (without words), so an answer can
    point at the moment inside the passage; passages indexed before they were kept have none.
    """

    id: str
    source: str
    text: str
    language: str | None = None
    original_text: str | None = Field(
        default=None, description="Text in the spoken language when `text` was translated."
    )
    kind: str = Field(SPEECH, description="'speech', or 'screen' for text read off the video.")
    speaker: str | None = Field(None, description="Who speaks in the passage, when one speaker does.")
    sentences: tuple[Segment, ...] = ()


class Hit(BaseModel):
    """A chunk returned by a search, with its cosine similarity to the query."""

    model_config = ConfigDict(frozen=True)

    chunk: Chunk
    score: float


class Moment(_Timed):
    """The sentence(s) inside a cited passage that an answer rests on, by their own times (with
    a neighbouring sentence that scores close: `mediarag.moments.choose_sentences`)."""


class Citation(_Timed):
    """Where an answer comes from: a file, the passage's time span in it, the moment inside
    the passage that the answer rests on, and a link that plays that moment.

    ``start``/``end`` and ``text`` are the whole passage's; ``moment`` is None for text
    documents (they have no time) and in citations saved before moments existed, whose
    ``link`` plays the whole passage.
    """

    source: str
    text: str
    score: float
    link: str
    kind: str = SPEECH
    speaker: str | None = None
    moment: Moment | None = None

    @property
    def play_from(self) -> float:
        """The second a player should start at: the moment's start, else the passage's."""
        return self.moment.start if self.moment is not None else self.start


class Message(BaseModel):
    """One turn of a conversation."""

    model_config = ConfigDict(frozen=True)

    role: Literal["user", "assistant", "system"]
    content: str


class Answer(BaseModel):
    """The reply to a question. ``grounded`` is true when it rests on at least one cited passage.

    ``fallback`` is set when the generator's own reply was unusable (empty, only a citation
    label, the question repeated, or not supported by the passages): it says why, and ``text``
    is then the extractive answer from the same passages.
    """

    question: str
    text: str
    citations: list[Citation] = Field(default_factory=list)
    grounded: bool = False
    fallback: str | None = Field(
        None, description="Why the generator's reply was replaced by the extractive answer, if it was."
    )
    standalone_question: str | None = Field(
        None, description="In a conversation: the question as rewritten for retrieval."
    )


class SourceInfo(BaseModel):
    """What the index knows about one ingested file."""

    source: str
    sha256: str
    duration: float
    language: str
    languages: list[str] = Field(default_factory=list)
    chunks: int
    task: Task = "transcribe"
    kinds: dict[str, int] = Field(
        default_factory=dict,
        description="Passages of each kind ('speech', 'screen'); empty in indexes written before it was kept.",
    )
