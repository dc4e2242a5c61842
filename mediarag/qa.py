"""``MediaQA``: the facade that ingests media and answers questions with citations.

It builds the components from `Settings` (each with its own factory), and delegates: files go
through `mediarag.pipeline` (the public per-file stages and the batch driver), questions
through a `mediarag.retrieve.Retriever` and a `mediarag.generate.answer.Answerer`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError
from .export import export
from .generate.base import AnswerStream
from .links import is_url
from .pipeline.ingest import IngestFailure, IngestReport
from .progress import FileProgress
from .retrieve.citations import cite_for
from .retrieve.filters import PassageFilter, retrieve_filtered
from .retrieve.query import check_query
from .schema import SCREEN, SPEECH, Answer, Citation, Hit, Message, SourceInfo, Transcript
from .settings import Settings
from .transcribe.config import translation_task

if TYPE_CHECKING:
    from .conversation import Conversation, ConversationState
    from .embed.base import Embedder
    from .generate.answer import Answerer
    from .generate.base import Generator
    from .pipeline.ingest import Engine
    from .pipeline.pipeline import Pipeline
    from .retrieve.dense import DenseRetriever
    from .retrieve.hybrid import HybridRetriever
    from .segment.base import Segmenter
    from .speakers.library import SpeakerLibrary
    from .store.base import VectorStore
    from .transcribe.base import Transcriber

__all__ = ["AnswerStream", "IngestFailure", "IngestReport", "MediaQA"]

#: The kinds of passage a search can be limited to.
PASSAGE_KINDS = (SPEECH, SCREEN)


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
        given = {"transcriber": transcriber, "segmenter": segmenter, "embedder": embedder,
                 "store": store, "generator": generator}  # fmt: skip
        self.__dict__.update({name: part for name, part in given.items() if part is not None})

    # Components, each built by its own factory on first use ----------------------------------

    @cached_property
    def transcriber(self) -> Transcriber:
        """The transcriber (built from ``settings.transcription`` on first use)."""
        from .transcribe import make_transcriber

        return make_transcriber(self.settings.transcription, self.settings.aws)

    @cached_property
    def embedder(self) -> Embedder:
        """The embedder (built from ``settings.embedding`` on first use)."""
        from .embed import make_embedder

        return make_embedder(self.settings.embedding, self.settings.aws)

    @cached_property
    def segmenter(self) -> Segmenter:
        """The segmenter (built from ``settings.segmentation`` on first use)."""
        from .segment import make_segmenter

        return make_segmenter(self.settings.segmentation, self.embedder)

    @cached_property
    def store(self) -> VectorStore:
        """The vector store holding the index (opened on first use)."""
        from .store import open_store

        return open_store(self.settings.location, embedder_name=self.embedder.name, aws=self.settings.aws)

    @cached_property
    def generator(self) -> Generator:
        """The answer generator (built from ``settings.generation`` on first use)."""
        from .generate import make_generator

        return make_generator(self.settings.generation, self.settings.aws)

    @cached_property
    def pipeline(self) -> Pipeline:
        """The per-file path every ingest runs (`mediarag.pipeline.Pipeline`)."""
        from .pipeline import Pipeline

        return Pipeline.from_settings(self.settings, self.transcriber, self.segmenter, self.embedder)

    @cached_property
    def retriever(self) -> DenseRetriever | HybridRetriever:
        """Finds the passages for a question (``settings.retrieval``: hybrid, dense or keyword)."""
        from .retrieve import make_retriever

        return make_retriever(self.settings.retrieval, self.store, self.embedder)

    @cached_property
    def speakers(self) -> SpeakerLibrary:
        """The index's speakers: enroll voices, rename and forget names
        (`mediarag.speakers.library.SpeakerLibrary`)."""
        from .speakers.library import SpeakerLibrary
        from .speakers.voiceprints import VoiceprintStore

        location = VoiceprintStore(self.settings.location, self.settings.aws)
        return SpeakerLibrary(self.store, location, self.settings.speakers)

    @property
    def answerer(self) -> Answerer:
        """Writes answers with the generator, citing the passages it was given."""
        from .generate.answer import Answerer

        return Answerer(self.generator)

    @property
    def min_score(self) -> float:
        """The score a passage needs to be retrieved: ``Settings.min_score`` when set, else the
        embedder's own measured threshold (an embedder without one filters nothing)."""
        return self.retriever.min_score

    def warm_up(self, *, ingest: bool = True) -> None:
        """Load the models now rather than on first use (``ingest=False``: only what questions need)."""
        self.embedder.warm_up()
        self.generator.warm_up()
        if ingest:
            self.pipeline.warm_up()

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
        engine: Engine | None = None,
    ) -> IngestReport:
        """Transcribe, segment, embed and index media files.

        ``paths`` are files or directories (searched recursively for media extensions), or
        ``s3://`` URLs of objects or prefixes (aws extra; each object is downloaded to a temporary
        file and indexed under its URL). ``base_url`` records local files under a URL instead of
        their path (see `mediarag.pipeline.plan_jobs`). Files whose content is unchanged since
        they were indexed are skipped; changed files are replaced. Each file is committed to the
        index as soon as it is done, so an interruption loses at most the file in progress. A
        file that fails is reported in ``failed``, leaves no trace in the index, and the others
        go on. ``prune=True`` also removes indexed local files that no longer exist.
        ``progress`` is called as each file is transcribed (`mediarag.progress.FileProgress`).
        ``engine`` runs the pipeline elsewhere (`mediarag.engines`); the index is still written
        by this process alone.
        """
        from .pipeline.ingest import IngestOptions, ingest_files, plan_jobs

        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        options = IngestOptions(
            language=self.language(language),
            task=translation_task(translate_to or self.settings.translate_to),
            aws=self.settings.aws,
        )
        self.transcriber.check_language(options.language)
        jobs, failures = plan_jobs(paths, self.store, base_url=base_url, aws=self.settings.aws)
        report = IngestReport(failed=failures)
        ingest_files(
            self.pipeline,
            self.store,
            jobs,
            options,
            engine=engine,
            progress=progress,
            transcripts_url=self.settings.transcripts_url,
            report=report,
        )
        if prune:
            self.prune()
        return report

    def language(self, language: str | None = None) -> str | None:
        """The spoken language to transcribe with: ``language``, else the settings'; ``auto``
        and None mean detect it."""
        chosen = language if language is not None else self.settings.language
        return None if chosen is None or chosen.lower() == "auto" else chosen.lower()

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
        removed = self.store.delete_source(_source_key(source))
        self.store.commit()
        return removed

    def refresh(self) -> bool:
        """See what other processes committed to the index since it was opened."""
        return self.store.refresh()

    # Questions ---------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int | None = None,
        min_score: float | None = None,
        *,
        speaker: str | None = None,
        kind: str | None = None,
    ) -> list[Citation]:
        """The passages most similar to ``query``, best first, as citations (``speaker``: only
        passages in which that speaker, a name or a per-file label, says something; ``kind``:
        only ``speech`` or only ``screen`` passages); each points at the passage's sentence(s)
        that best match the query (`mediarag.moments.best_moment`)."""
        hits = self.retrieve(query, k, min_score, what="search query", speaker=speaker, kind=kind)
        return [cite_for(query, h) for h in hits]

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        min_score: float | None = None,
        *,
        what: str = "question",
        speaker: str | None = None,
        kind: str | None = None,
    ) -> list[Hit]:
        """The passages for ``query``, best first (checked: not empty, not too long; ``k`` >= 1;
        ``speaker``, ``kind``: see `search`)."""
        check_query(query, what)
        if k is not None and k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        if kind is not None and kind not in PASSAGE_KINDS:
            raise ConfigError(f"kind must be one of {', '.join(PASSAGE_KINDS)}, got {kind!r}")
        return retrieve_filtered(self.retriever, query, PassageFilter(speaker=speaker, kind=kind), k, min_score)

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        use_knowledge_base: bool = True,
        history: Sequence[Message] | None = None,
        min_score: float | None = None,
        speaker: str | None = None,
    ) -> Answer:
        """Answer a question from the indexed media, citing the passages the answer rests on.

        When no passage reaches ``min_score`` the generator is not called: the answer says it
        does not know, cites nothing and has ``grounded=False``. Citations come from the index,
        never from generated text; in an LLM's answer, ``[n]`` refers to ``citations[n - 1]``.
        For follow-up questions and files outside the index, use `conversation`. ``speaker``
        answers from the passages in which that speaker says something.
        """
        return self.ask_stream(
            question, k, use_knowledge_base=use_knowledge_base, history=history, min_score=min_score,
            stream=False, speaker=speaker,
        ).answer  # fmt: skip

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        *,
        use_knowledge_base: bool = True,
        history: Sequence[Message] | None = None,
        min_score: float | None = None,
        stream: bool = True,
        speaker: str | None = None,
    ) -> AnswerStream[Answer]:
        """Like `ask`, but the answer's text comes piece by piece as the generator writes it::

            reply = qa.ask_stream("When is the deadline?")
            for piece in reply:
                print(piece, end="", flush=True)
            print(reply.answer.citations)
        """
        from .generate.answer import NO_KNOWLEDGE_BASE, fixed

        check_query(question)
        if not use_knowledge_base:
            return fixed(Answer(question=question, text=NO_KNOWLEDGE_BASE, grounded=False))
        hits = self.retrieve(question, k, min_score, speaker=speaker)
        return self.answerer.stream(question, hits, list(history or ()), stream=stream)

    def conversation(
        self,
        *,
        memory_turns: int | None = None,
        use_knowledge_base: bool = True,
        state: ConversationState | None = None,
    ) -> Conversation:
        """A new `Conversation` over this index (or one continued from a saved ``state``):
        follow-up questions, and files added to the conversation only. ``memory_turns``
        defaults to ``Settings.memory_turns``."""
        from .conversation import Conversation, ConversationState

        if state is None:
            turns = self.settings.memory_turns if memory_turns is None else memory_turns
            state = ConversationState(memory_turns=turns, use_knowledge_base=use_knowledge_base)
        return Conversation(
            pipeline=self.pipeline,
            retriever=self.retriever,
            answerer=self.answerer,
            settings=self.settings,
            state=state,
        )

    # Transcripts -------------------------------------------------------------------------

    def sources(self) -> dict[str, SourceInfo]:
        """Every indexed file, by source."""
        return self.store.sources()

    def transcript(self, source: str | os.PathLike[str]) -> Transcript:
        """The stored transcript (one segment per sentence) of an indexed file."""
        return self.store.transcript(_source_key(source))

    def export_transcript(self, source: str | os.PathLike[str], fmt: str = "srt") -> str:
        """An indexed file's transcript as ``srt``, ``vtt``, ``json`` or ``txt``."""
        return export(self.transcript(source), fmt)


def _source_key(source: str | os.PathLike[str]) -> str:
    return str(source) if is_url(str(source)) else str(Path(source).resolve())
