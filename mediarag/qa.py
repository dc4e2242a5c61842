"""``MediaQA``: the facade that ingests media and answers questions with citations."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from typing import TYPE_CHECKING

from .errors import ConfigError, MediaError, MediaRagError
from .export import export
from .links import is_url, media_link
from .media import decode_audio, file_sha256, find_media
from .progress import FileProgress, progress_bar
from .schema import Answer, Chunk, Citation, Hit, Message, Segment, SourceInfo, Task, Transcript
from .sentences import merge_sentences
from .settings import Settings

if TYPE_CHECKING:  # the protocols' packages import their implementations lazily
    import numpy as np

    from .aws.clients import AwsConfig
    from .conversation import Conversation
    from .embed.base import Embedder
    from .generate.base import Generation, GenerationStream, Generator
    from .segment.base import Segmenter
    from .store.base import VectorStore
    from .transcribe.base import Transcriber

NO_ANSWER = "I don't know: nothing in the indexed media answers this question."
NO_KNOWLEDGE_BASE = (
    "The knowledge base is switched off and this generator answers only from indexed media."
)


class IngestFailure(BaseModel):
    """A file that could not be indexed, and why."""

    source: str
    error: str


class IngestReport(BaseModel):
    """What one `MediaQA.ingest` call did, file by file."""

    ingested: list[SourceInfo] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    failed: list[IngestFailure] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed


class AnswerStream:
    """An answer as the generator writes it: iterate for text pieces, then read `answer`.

    A generator that cannot stream gives its whole text as one piece. Reading `answer` before
    the end consumes the rest.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[], Answer]) -> None:
        self._pieces = pieces
        self._finish = finish
        self._answer: Answer | None = None
        self._callbacks: list[Callable[[Answer], None]] = []

    def on_answer(self, callback: Callable[[Answer], None]) -> AnswerStream:
        """Call ``callback`` with the `Answer` once it is complete; returns this stream."""
        self._callbacks.append(callback)
        return self

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        if self._answer is not None:
            raise StopIteration
        try:
            return next(self._pieces)
        except StopIteration:
            self._answer = self._finish()
            for callback in self._callbacks:
                callback(self._answer)
            raise

    @property
    def answer(self) -> Answer:
        """The complete `Answer`, with its citations."""
        for _ in self:
            pass
        assert self._answer is not None
        return self._answer


class MediaQA:
    """Index video and audio files, then search them and answer questions with citations.

    Built from `Settings` (defaults work offline) or from explicit components; a
    component passed in replaces the one the settings describe::

        qa = MediaQA("my-index")
        qa.ingest(["talks/"])
        answer = qa.ask("When is the deadline?")
        for c in answer.citations:
            print(c.source, c.start, c.end, c.link)

    Models load on first use, or all at once with `warm_up`.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str] | None = None,
        *,
        settings: Settings | None = None,
        transcriber: Transcriber | None = None,
        segmenter: Segmenter | None = None,
        embedder: Embedder | None = None,
        store: VectorStore | None = None,
        generator: Generator | None = None,
    ) -> None:
        settings = settings or Settings()
        if index_dir is not None:
            settings = settings.model_copy(update={"index_dir": Path(index_dir)})
        self.settings = settings
        self._transcriber = transcriber
        self._segmenter = segmenter
        self._embedder = embedder
        self._store = store
        self._generator = generator

    # Components, built from settings on first use -------------------------------------------

    @property
    def transcriber(self) -> Transcriber:
        """The transcriber (built from the settings on first use)."""
        if self._transcriber is None:
            s = self.settings
            if s.transcriber == "sagemaker":
                from .transcribe.sagemaker import SageMakerWhisperTranscriber

                self._transcriber = SageMakerWhisperTranscriber(s.whisper_endpoint, config=self.aws_config)
            elif s.transcriber == "aws-transcribe":
                from .transcribe.aws_transcribe import AmazonTranscriber

                if s.aws_staging_url is None:
                    raise ConfigError("transcriber 'aws-transcribe' needs aws_staging_url (an s3:// prefix)")
                self._transcriber = AmazonTranscriber(
                    s.aws_staging_url,
                    language_options=s.transcribe_language_options,
                    multiple_languages=s.transcribe_multiple_languages,
                    config=self.aws_config,
                )
            elif s.transcriber == "transformers":
                from .transcribe.transformers import TransformersTranscriber

                self._transcriber = TransformersTranscriber(
                    s.whisper_model,
                    device=s.device,
                    chunk_length_s=s.chunk_length_s,
                    stride_length_s=s.stride_length_s,
                )
            else:
                from .transcribe.faster_whisper import FasterWhisperTranscriber

                self._transcriber = FasterWhisperTranscriber(
                    s.whisper_model,
                    device=s.device,
                    compute_type=s.compute_type,
                    beam_size=s.beam_size,
                    vad=s.vad,
                )
        return self._transcriber

    @property
    def embedder(self) -> Embedder:
        """The embedder (built from the settings on first use)."""
        if self._embedder is None:
            name = self.settings.embedder_model
            if name.lower() == "sagemaker" or name.lower().startswith("sagemaker:"):
                from .embed.sagemaker import SageMakerEmbedder

                endpoint = name.partition(":")[2] or None
                self._embedder = SageMakerEmbedder(endpoint, config=self.aws_config)
            else:
                from .embed import make_embedder

                self._embedder = make_embedder(name)
        return self._embedder

    @property
    def min_score(self) -> float:
        """The score a passage needs to be retrieved: ``Settings.min_score`` when set, else the
        embedder's own measured threshold (an embedder without one filters nothing)."""
        if self.settings.min_score is not None:
            return self.settings.min_score
        return float(getattr(self.embedder, "min_score", -1.0))

    @property
    def segmenter(self) -> Segmenter:
        """The segmenter (built from the settings on first use)."""
        if self._segmenter is None:
            s = self.settings
            if s.segmenter == "recursive":
                from .segment.recursive import RecursiveCharacterSegmenter

                self._segmenter = RecursiveCharacterSegmenter(s.chunk_size, s.chunk_overlap)
            elif s.segmenter == "window":
                from .segment.window import FixedWindowSegmenter

                self._segmenter = FixedWindowSegmenter(s.window_seconds, s.window_overlap)
            else:
                from .segment.semantic import CosineMinimaSegmenter

                self._segmenter = CosineMinimaSegmenter(
                    self.embedder,
                    p_size=s.p_size,
                    order=s.order,
                    min_duration=s.min_passage_seconds,
                    max_duration=s.max_passage_seconds,
                    min_chars=s.min_passage_chars,
                    max_chars=s.max_passage_chars,
                    split_below=s.split_below,
                )
        return self._segmenter

    @property
    def store(self) -> VectorStore:
        """The vector store holding the index (opened on first use)."""
        if self._store is None:
            if self.settings.index_url is not None:
                from .store.s3 import S3SyncedStore

                self._store = S3SyncedStore(
                    self.settings.index_url, embedder_name=self.embedder.name, config=self.aws_config
                )
            else:
                from .store.faiss import FaissStore

                self._store = FaissStore(self.settings.index_dir, embedder_name=self.embedder.name)
        return self._store

    @property
    def generator(self) -> Generator:
        """The answer generator (built from the settings on first use)."""
        if self._generator is None:
            kind = self.settings.generator
            if kind == "local":
                from .generate.llama_cpp import LlamaCppGenerator

                self._generator = LlamaCppGenerator.from_settings(self.settings)
            elif kind == "openai":
                from .generate.openai import OpenAICompatibleGenerator

                self._generator = OpenAICompatibleGenerator.from_settings(self.settings)
            elif kind == "sagemaker":
                from .generate.sagemaker import SageMakerGenerator

                self._generator = SageMakerGenerator.from_settings(self.settings, config=self.aws_config)
            else:
                from .generate.extractive import ExtractiveGenerator

                self._generator = ExtractiveGenerator()
        return self._generator

    @property
    def aws_config(self) -> AwsConfig:
        """Region and profile for the AWS components, from the settings (aws extra)."""
        from .aws.clients import AwsConfig

        return AwsConfig(region=self.settings.aws_region, profile=self.settings.aws_profile)

    def warm_up(self, *, ingest: bool = True) -> None:
        """Load the models now rather than on first use (``ingest=False``: only what questions need)."""
        self.embedder.warm_up()
        self.generator.warm_up()
        if ingest:
            self.transcriber.warm_up()
            self.segmenter.warm_up()

    # Ingest ------------------------------------------------------------------------------

    def ingest(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        language: str | None = None,
        translate_to: str | None = None,
        prune: bool = False,
        base_url: str | None = None,
        progress: FileProgress | None = None,
    ) -> IngestReport:
        """Transcribe, segment, embed and index media files.

        ``paths`` are files or directories (searched recursively for media extensions), or
        ``s3://`` URLs of objects or prefixes (aws extra; each object is downloaded to a temporary
        file and indexed under its URL). ``base_url`` records local files under a URL instead of
        their path: a file found under a directory given in ``paths`` becomes ``base_url`` plus
        its path relative to that directory (how a SageMaker Processing job keeps the ``s3://``
        URLs of the files it was handed). Files
        whose content is unchanged since they were indexed are skipped; changed files are
        replaced. Each file is committed to the index as soon as it is done, so an interruption
        loses at most the file in progress. A file that fails is reported in ``failed`` and the
        others go on. ``prune=True`` also removes indexed local files that no longer exist.
        ``progress`` is called as each file is transcribed (`mediarag.progress.FileProgress`).
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        task = translation_task(translate_to or self.settings.translate_to)
        language = language if language is not None else self.settings.language
        if language is not None and language.lower() == "auto":
            language = None
        if self.settings.transcriber != "aws-transcribe":  # Transcribe takes its own codes
            _check_language(language)
        report = IngestReport()
        files: list[tuple[Path | None, str]] = []  # (local file, source); None: an s3:// object
        for raw in paths:
            try:
                files.extend(self._find(raw, base_url))
            except MediaError as exc:
                report.failed.append(IngestFailure(source=exc.source, error=str(exc)))
            except MediaRagError as exc:
                report.failed.append(IngestFailure(source=str(raw), error=_message(exc, str(raw))))
        with progress_bar(total=len(files), desc="Ingesting", unit="file", leave=True) as bar:
            for path, source in files:
                bar.set_postfix_str(source.rsplit("/", 1)[-1], refresh=True)
                try:
                    info = self._ingest_one(path, source, language, task, progress)
                except MediaRagError as exc:
                    report.failed.append(IngestFailure(source=source, error=_message(exc, source)))
                except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
                    report.failed.append(
                        IngestFailure(source=source, error=f"{source}: {type(exc).__name__}: {exc}")
                    )
                else:
                    (report.ingested.append(info) if info else report.skipped.append(source))
                bar.update(1)
        if prune:
            self.prune()
        return report

    def _find(self, raw: str | os.PathLike[str], base_url: str | None) -> list[tuple[Path | None, str]]:
        if isinstance(raw, str) and raw.lower().startswith("s3://"):
            return [(None, url) for url in self._s3().media_urls(raw)]
        found = list(find_media([raw]))
        if base_url is None:
            return [(p, str(p.resolve())) for p in found]
        root = Path(raw).expanduser()
        base = base_url.rstrip("/")
        return [
            (p, f"{base}/{(p.relative_to(root) if root.is_dir() else Path(p.name)).as_posix()}")
            for p in found
        ]

    def _s3(self):  # type: ignore[no-untyped-def]
        from .aws.s3 import S3

        return S3(self.aws_config)

    def _ingest_one(
        self, path: Path | None, source: str, language: str | None, task: Task, progress: FileProgress | None
    ) -> SourceInfo | None:
        if path is not None:
            return self._ingest_file(path, source, language, task, progress)
        with self._s3().downloaded(source) as local:
            return self._ingest_file(local, source, language, task, progress)

    def _ingest_file(
        self, path: Path, source: str, language: str | None, task: Task, progress: FileProgress | None
    ) -> SourceInfo | None:
        sha = file_sha256(path)
        known = self.store.sources().get(source)
        if known is not None and known.sha256 == sha and known.task == task:
            return None
        transcript, sentences, chunks = self._passages(path, source, sha, language, task, progress=progress)
        vectors = self.embedder.embed_passages([c.text for c in chunks])
        stored = stored_transcript(transcript, source, sentences)
        info = SourceInfo(
            source=source,
            sha256=sha,
            duration=transcript.duration,
            language=transcript.language,
            languages=transcript.languages if transcript.segments else [],
            chunks=len(chunks),
            task=task,
        )
        self.store.add_source(info, stored, chunks, vectors)
        self.store.commit()
        if self.settings.transcripts_url is not None:
            from .aws.s3 import write_outputs

            write_outputs(self._s3(), self.settings.transcripts_url, stored, chunks, sha)
        return info

    def _passages(
        self,
        path: Path,
        source: str,
        sha: str,
        language: str | None,
        task: Task,
        id_prefix: str = "",
        progress: FileProgress | None = None,
    ) -> tuple[Transcript, list[Segment], list[Chunk]]:
        """Transcribe one media file and split it into timed sentences and passages."""
        audio = decode_audio(path)
        duration = audio.duration
        with progress_bar(total=round(duration, 1), desc=f"Transcribing {path.name}", unit="s") as bar:

            def advance(done: float) -> None:
                bar.update(max(0.0, round(done, 1) - bar.n))
                if progress is not None:
                    progress(source, min(done, duration), duration)

            if progress is not None:
                progress(source, 0.0, duration)
            transcript = self.transcriber.transcribe(
                audio, language=language, task=task, progress=advance
            )
            if progress is not None:
                progress(source, duration, duration)
        del audio
        sentences = merge_sentences(transcript.segments, duration=transcript.duration)
        passages = self.segmenter.split(sentences) if sentences else []
        chunks = [
            Chunk(
                id=f"{id_prefix}{sha[:16]}-{i:05d}",
                source=source,
                start=p.start,
                end=p.end,
                text=p.text,
                language=p.language,
                original_text=p.original_text,
            )
            for i, p in enumerate(passages)
        ]
        return transcript, sentences, chunks

    def prune(self) -> list[str]:
        """Remove indexed local files that no longer exist; return their sources."""
        gone = [s for s in self.store.sources() if not is_url(s) and not Path(s).exists()]
        for source in gone:
            self.store.delete_source(source)
        if gone:
            self.store.commit()
        return gone

    def remove(self, source: str | os.PathLike[str]) -> int:
        """Remove one file from the index; return how many passages went with it."""
        key = str(source) if is_url(str(source)) else str(Path(source).resolve())
        removed = self.store.delete_source(key)
        self.store.commit()
        return removed

    # Questions ---------------------------------------------------------------------------

    def search(self, query: str, k: int | None = None, min_score: float | None = None) -> list[Citation]:
        """The passages most similar to ``query``, best first, as citations."""
        return [self._citation(h) for h in self._retrieve(query, k, min_score)]

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        use_knowledge_base: bool = True,
        history: Sequence[Message] | None = None,
        min_score: float | None = None,
    ) -> Answer:
        """Answer a question from the indexed media, citing the passages the answer rests on.

        When no passage reaches ``min_score`` the generator is not called: the answer says it
        does not know, cites nothing and has ``grounded=False``. Citations come from the index,
        never from generated text; in an LLM's answer, ``[n]`` refers to ``citations[n - 1]``.
        For follow-up questions and files outside the index, use `conversation`.
        """
        return self.ask_stream(
            question, k, use_knowledge_base=use_knowledge_base, history=history, min_score=min_score, stream=False
        ).answer

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        *,
        use_knowledge_base: bool = True,
        history: Sequence[Message] | None = None,
        min_score: float | None = None,
        stream: bool = True,
    ) -> AnswerStream:
        """Like `ask`, but the answer's text comes piece by piece as the generator writes it::

            reply = qa.ask_stream("When is the deadline?")
            for piece in reply:
                print(piece, end="", flush=True)
            print(reply.answer.citations)
        """
        if not question.strip():
            raise ConfigError("the question is empty")
        if not use_knowledge_base:
            return _fixed(Answer(question=question, text=NO_KNOWLEDGE_BASE, grounded=False))
        hits = self._retrieve(question, k, min_score)
        return self.answer_stream(question, hits, list(history or ()), stream=stream)

    def answer_stream(
        self,
        question: str,
        hits: Sequence[Hit],
        history: Sequence[Message] = (),
        *,
        stream: bool = True,
        standalone_question: str | None = None,
        no_answer: str = NO_ANSWER,
    ) -> AnswerStream:
        """The answer to ``question`` from passages already retrieved (best first).

        Without passages the generator is not called and the answer is ``no_answer``. The
        generator is asked ``standalone_question`` when given (a rewritten follow-up), and the
        `Answer` keeps both.
        """
        if not hits:
            return _fixed(
                Answer(question=question, text=no_answer, grounded=False, standalone_question=standalone_question)
            )
        asked = standalone_question or question
        generator = self.generator
        if stream and callable(getattr(generator, "stream", None)):
            generation_stream: GenerationStream = generator.stream(asked, hits, list(history))  # type: ignore[attr-defined]
        else:
            from .generate.base import GenerationStream

            generation_stream = GenerationStream.of(generator.generate(asked, hits, list(history)))
        return AnswerStream(
            generation_stream,
            lambda: self._answer(question, hits, generation_stream.generation, standalone_question, no_answer),
        )

    def _answer(
        self,
        question: str,
        hits: Sequence[Hit],
        generation: Generation,
        standalone_question: str | None,
        no_answer: str,
    ) -> Answer:
        used = [i for i in dict.fromkeys(generation.used) if 0 <= i < len(hits)]
        citations = [self._citation(hits[i]) for i in used]
        text = generation.text.strip()
        if not text or not citations:
            return Answer(
                question=question, text=text or no_answer, grounded=False, standalone_question=standalone_question
            )
        return Answer(
            question=question, text=text, citations=citations, grounded=True, standalone_question=standalone_question
        )

    def conversation(
        self, *, memory_turns: int | None = None, use_knowledge_base: bool = True
    ) -> Conversation:
        """A new `Conversation` over this index: follow-up questions, and files added to the
        conversation only. ``memory_turns`` defaults to ``Settings.memory_turns``."""
        from .conversation import Conversation

        return Conversation(self, memory_turns=memory_turns, use_knowledge_base=use_knowledge_base)

    def _retrieve(
        self, query: str, k: int | None, min_score: float | None, vector: np.ndarray | None = None
    ) -> list[Hit]:
        if len(self.store) == 0:
            return []
        if vector is None:
            vector = self.embedder.embed_queries([query])[0]
        return self.store.search(
            vector,
            k=k or self.settings.k,
            min_score=self.min_score if min_score is None else min_score,
        )

    @staticmethod
    def _citation(hit: Hit) -> Citation:
        c = hit.chunk
        return Citation(
            source=c.source,
            start=c.start,
            end=c.end,
            text=c.text,
            score=round(float(hit.score), 4),
            link=media_link(c.source, c.start, c.end),
        )

    # Transcripts -------------------------------------------------------------------------

    def sources(self) -> dict[str, SourceInfo]:
        """Every indexed file, by source."""
        return self.store.sources()

    def transcript(self, source: str | os.PathLike[str]) -> Transcript:
        """The stored transcript (one segment per sentence) of an indexed file."""
        key = str(source) if is_url(str(source)) else str(Path(source).resolve())
        return self.store.transcript(key)

    def export_transcript(self, source: str | os.PathLike[str], fmt: str = "srt") -> str:
        """An indexed file's transcript as ``srt``, ``vtt``, ``json`` or ``txt``."""
        return export(self.transcript(source), fmt)


def stored_transcript(transcript: Transcript, source: str, sentences: Sequence[Segment]) -> Transcript:
    """The transcript as kept with an index or a conversation: its sentences, without words."""
    segments = [s.model_copy(update={"words": ()}) for s in sentences]
    return transcript.model_copy(update={"source": source, "segments": segments})


def _fixed(answer: Answer) -> AnswerStream:
    """A stream holding an answer known in advance (no generator involved)."""
    return AnswerStream(iter([answer.text]), lambda: answer)


def translation_task(translate_to: str | None) -> Task:
    """The Whisper task for a ``translate_to`` setting: ``transcribe``, or ``translate`` for 'en'."""
    if translate_to is None:
        return "transcribe"
    if translate_to.lower() != "en":
        raise ConfigError(f"translate_to={translate_to!r}: Whisper translates only to English ('en')")
    return "translate"


def _check_language(language: str | None) -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if language is not None and language not in _LANGUAGE_CODES:
        raise ConfigError(f"language {language!r} is not a Whisper language code (e.g. 'en', 'es', 'de')")


def _message(exc: MediaRagError, source: str) -> str:
    text = str(exc)
    return text if source in text else f"{source}: {text}"
