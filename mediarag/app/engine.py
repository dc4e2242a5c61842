"""What the app's pages share: one set of models and one index per process, generators chosen in
the UI, and the small formatting rules of the page. Nothing here imports Streamlit."""

from __future__ import annotations

import contextlib
import mimetypes
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr

from ..generate.answer import Answerer
from ..links import is_text_source, is_url
from ..media import VIDEO_EXTENSIONS, file_sha256
from ..progress import FileProgress
from ..pipeline.ingest import IngestReport
from ..qa import MediaQA
from ..retrieve.citations import citation_label as label_of
from ..schema import SCREEN, Citation
from ..settings import Settings
from .config import AppConfig
from .uploads import display_name

if TYPE_CHECKING:
    import numpy as np

    from ..generate.base import Generator
    from ..store.base import VectorStore

GeneratorKind = Literal["extractive", "local", "openai", "sagemaker"]

#: The generator choices, as the page names them.
GENERATOR_LABELS: dict[str, str] = {
    "extractive": "Extractive (sentences from the passages, no model)",
    "local": "Local LLM (llama.cpp, GGUF)",
    "openai": "OpenAI-compatible endpoint",
    "sagemaker": "SageMaker endpoint",
}

_AUDIO_TYPES = {".flac": "audio/flac", ".ogg": "audio/ogg", ".oga": "audio/ogg", ".opus": "audio/ogg",
                ".m4a": "audio/mp4", ".aac": "audio/aac", ".wav": "audio/wav", ".mp3": "audio/mpeg"}  # fmt: skip


#: The `Settings` fields a `GeneratorChoice` carries besides the kind.
_CHOICE_FIELDS = ("llm_model", "openai_base_url", "openai_api_key", "generator_endpoint", "aws_region")


class GeneratorChoice(BaseModel):
    """The answer generator chosen in the UI; fields that the chosen kind does not use are ignored."""

    model_config = ConfigDict(frozen=True)

    kind: GeneratorKind = "extractive"
    llm_model: str | None = None
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    generator_endpoint: str | None = None
    aws_region: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> GeneratorChoice:
        """The generator ``settings`` describe."""
        return cls(kind=settings.generator, **{name: getattr(settings, name) for name in _CHOICE_FIELDS})

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with this generator (validated: a bad value raises ``ValueError``)."""
        update: dict[str, Any] = {"generator": self.kind}
        update.update({n: getattr(self, n) for n in _CHOICE_FIELDS if getattr(self, n) not in (None, "")})
        return Settings.model_validate({**settings.model_dump(), **update})

    def describe(self) -> str:
        """One line for the page: which generator answers."""
        if self.kind == "local":
            return f"local LLM {self.llm_model or 'qwen2.5-1.5b'}"
        if self.kind == "openai":
            return f"{self.llm_model or '$OPENAI_MODEL'} at {self.openai_base_url or '$OPENAI_BASE_URL'}"
        if self.kind == "sagemaker":
            return f"SageMaker endpoint {self.generator_endpoint or '$falcon_ep_name'}"
        return "extractive answers"

    def cache_key(self) -> str:
        """What tells two choices apart (the key included, never shown)."""
        secret = self.openai_api_key.get_secret_value() if self.openai_api_key else ""
        return self.model_dump_json(exclude={"openai_api_key"}) + secret


@dataclass(frozen=True)
class LibraryEntry:
    """One indexed file as the library view lists it."""

    source: str
    name: str
    duration: float
    language: str
    passages: int


@dataclass(frozen=True)
class Player:
    """How the page plays a source: an audio or video element, with the media type to announce."""

    kind: Literal["audio", "video"]
    mime: str


class _SerializedStore:
    """A vector store whose calls run one at a time, so that one session can search while
    another ingests (each call is atomic; transcription happens outside them)."""

    def __init__(self, store: VectorStore) -> None:
        self._store = store
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._store, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return call

    def __len__(self) -> int:
        with self._lock:
            return len(self._store)


class Engine:
    """The models, the index and the generators one app process shares between browser sessions.

    Every call to the index runs alone, and ingest runs one batch at a time; so do answers from
    a local LLM (one llama.cpp model is not safe to call from two sessions at once).
    """

    def __init__(self, config: AppConfig) -> None:
        from ..embed import make_embedder
        from ..segment import make_segmenter
        from ..store import open_store
        from ..transcribe import make_transcriber

        self.config = config
        settings = config.settings
        embedder = make_embedder(settings.embedding, settings.aws)
        store = open_store(settings.location, embedder_name=embedder.name, aws=settings.aws)
        self._base = MediaQA(
            settings=settings,
            transcriber=make_transcriber(settings.transcription, settings.aws),
            segmenter=make_segmenter(settings.segmentation, embedder),
            embedder=embedder,
            store=_SerializedStore(store),  # type: ignore[arg-type]
        )
        self._generators: dict[str, Generator] = {}
        self._lock = threading.Lock()  # guards _generators
        self._ingest_lock = threading.Lock()
        self._local_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the transcriber and the embedder now (the generator loads when first chosen)."""
        self._base.warm_up(ingest=True)

    def generator(self, choice: GeneratorChoice) -> Generator:
        """``choice``'s generator, built and warmed up once per process (errors such as a
        missing model raise here)."""
        from ..generate import make_generator

        with self._lock:
            generator = self._generators.get(choice.cache_key())
        if generator is None:
            settings = choice.apply(self.config.settings)
            generator = make_generator(settings.generation, settings.aws)
            generator.warm_up()
            with self._lock:
                generator = self._generators.setdefault(choice.cache_key(), generator)
        return generator

    def qa(self, choice: GeneratorChoice | None = None) -> MediaQA:
        """A `MediaQA` over the shared models and index, answering with ``choice``'s generator."""
        choice = choice or GeneratorChoice.from_settings(self.config.settings)
        base = self._base
        return MediaQA(
            settings=choice.apply(self.config.settings),
            transcriber=base.transcriber,
            segmenter=base.segmenter,
            embedder=base.embedder,
            store=base.store,
            generator=self.generator(choice),
        )

    def answerer(self, choice: GeneratorChoice) -> Answerer:
        """Answers with ``choice``'s generator (for a conversation that changes generator)."""
        return Answerer(self.generator(choice))

    @contextlib.contextmanager
    def answering(self, choice: GeneratorChoice) -> Iterator[None]:
        """Hold while an answer is generated: serializes the local LLM, lets others run freely."""
        with self._local_lock if choice.kind == "local" else contextlib.nullcontext():
            yield

    def library(self) -> list[LibraryEntry]:
        """The indexed files, by name."""
        entries = [
            LibraryEntry(info.source, display_name(info.source), info.duration, info.language, info.chunks)
            for info in self._base.store.sources().values()
        ]
        return sorted(entries, key=lambda e: (e.name.lower(), e.source))

    def indexed_copy(self, path: Path) -> str | None:
        """The source of an indexed file with the same content as ``path``, if there is one."""
        sha = file_sha256(path)
        return next((s for s, info in self._base.store.sources().items() if info.sha256 == sha), None)

    def ingest(self, paths: Iterable[Path], progress: FileProgress | None = None) -> IngestReport:
        """Index files (one at a time across sessions); failures are in the report."""
        with self._ingest_lock:
            return self._base.ingest(list(paths), progress=progress)

    def speakers(self) -> list[str]:
        """The names and labels of the library's speakers, names first."""
        return self._base.speakers.names()

    def transcript_export(self, source: str, fmt: str) -> str:
        """An indexed file's transcript as ``srt``, ``vtt``, ``txt`` or ``json``."""
        return self._base.export_transcript(source, fmt)


def citation_label(citation: Citation) -> str:
    """`mediarag.retrieve.citations.citation_label` with the name the user gave an upload."""
    return label_of(citation, display_name(citation.source))

def thumbnail(citation: Citation) -> np.ndarray | None:
    """The frame of a screen citation, small (RGB), from a little after the text appears; None
    for other citations and for sources that are not local files (an ``s3://`` object)."""
    if citation.kind != SCREEN or is_url(citation.source) or not Path(citation.source).is_file():
        return None
    from ..screen.thumbnail import frame_at

    return frame_at(citation.source, citation.start + min(1.0, (citation.end - citation.start) / 2))


def play_start(citation: Citation) -> int:
    """The whole second the page's player starts a citation at: its moment's start (rounded
    down), else the passage's."""
    return int(citation.play_from)


def player_for(source: str) -> Player | None:
    """How to play ``source`` in the page, or None when the browser cannot fetch it (a text
    document, an ``s3://`` object)."""
    if is_text_source(source) or (is_url(source) and not source.lower().startswith(("http://", "https://"))):
        return None
    suffix = Path(source.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return Player("video", mimetypes.guess_type(f"x{suffix}")[0] or "video/mp4")
    return Player("audio", _AUDIO_TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "audio/wav")
