"""Conversations: follow-up questions, bounded memory, and files added to one conversation only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field

from .errors import ConfigError, MediaError
from .files import write_atomic
from .links import is_text_source
from .media import check_regular_file, file_sha256
from .progress import FileProgress
from .retrieve.filters import WIDEN, PassageFilter, retrieve_filtered
from .retrieve.hybrid import HybridRetriever
from .retrieve.query import check_query
from .schema import Answer, Chunk, Hit, Message, Transcript
from .transcribe.config import translation_task

if TYPE_CHECKING:
    import numpy as np

    from .generate.answer import Answerer
    from .generate.base import AnswerStream
    from .pipeline.pipeline import Pipeline
    from .retrieve.dense import DenseRetriever
    from .settings import Settings
    from .store.keywords import KeywordIndex

#: The answer when nothing in the conversation's files (knowledge base off) answers.
NO_ANSWER_IN_FILES = "I don't know: nothing in the files added to this conversation answers this question."


class AttachedFile(BaseModel):
    """A file added to a conversation: its passages, searched beside (or instead of) the index."""

    source: str = Field(description="Absolute path of the file.")
    kind: Literal["text", "media"]
    sha256: str
    language: str | None = None
    duration: float | None = Field(None, description="Media only: seconds of audio.")
    chunks: list[Chunk] = Field(default_factory=list)
    transcript: Transcript | None = Field(
        None, description="Media only: the timed sentences (`mediarag.export` writes SRT or VTT)."
    )


class ConversationState(BaseModel):
    """Everything a conversation remembers; `Conversation.save` writes it as JSON."""

    messages: list[Message] = Field(default_factory=list)
    files: list[AttachedFile] = Field(default_factory=list)
    memory_turns: int = Field(4, ge=0)
    use_knowledge_base: bool = True
    last_query: str | None = Field(None, description="The last question as sent to retrieval.")


class ConversationFactory(Protocol):
    """What continues a saved conversation: `mediarag.MediaQA` is one."""

    def conversation(self, *, state: ConversationState) -> Conversation: ...


class Conversation:
    """A chat over an index, made with `mediarag.MediaQA.conversation`::

        chat = qa.conversation()
        chat.add_file("meeting.mp4")          # this conversation only, not the index
        print(chat.ask("Who spoke first?").text)
        print(chat.ask("And what did she propose?").text)   # rewritten before retrieval
        chat.save("chat.json")                # later: Conversation.load("chat.json", qa)

    Each question is first made standalone: by the generator when it can rewrite (an LLM), else
    by carrying the previous question along when the new one looks like a follow-up. Passages
    are retrieved from the index (unless ``use_knowledge_base`` is off) and from the added files,
    best first, and answered as `MediaQA.ask` does. The last ``memory_turns`` questions and
    answers are kept; older ones drop.

    It works on the parts it is given: the ``pipeline`` that reads added media, the index's
    ``retriever``, the ``answerer``, and the ``settings`` (k, passage length, languages).
    """

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        retriever: DenseRetriever | HybridRetriever,
        answerer: Answerer,
        settings: Settings,
        state: ConversationState,
    ) -> None:
        self.pipeline = pipeline
        self.retriever = retriever
        self.answerer = answerer
        self.settings = settings
        self.state = state
        self._vectors: dict[str, np.ndarray] = {}
        self._keywords: tuple[tuple[tuple[str, str], ...], KeywordIndex] | None = None

    # State -------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[Message]:
        """The remembered turns, oldest first."""
        return list(self.state.messages)

    @property
    def files(self) -> list[AttachedFile]:
        """The files added to this conversation."""
        return list(self.state.files)

    @property
    def use_knowledge_base(self) -> bool:
        """Whether questions also search the index (off: the added files only)."""
        return self.state.use_knowledge_base

    @use_knowledge_base.setter
    def use_knowledge_base(self, value: bool) -> None:
        self.state.use_knowledge_base = bool(value)

    def reset(self) -> None:
        """Forget the turns (the added files stay)."""
        self.state.messages = []
        self.state.last_query = None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the conversation (turns, added files and their passages, settings) as JSON,
        whole or not at all; `ConfigError` naming the path when it cannot be written (the
        conversation in memory is kept)."""
        target = Path(path).expanduser()
        check_writable(target)
        try:
            write_atomic(target, self.state.model_dump_json(indent=1).encode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot save the conversation to {target}: {exc.strerror or exc}") from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str], qa: ConversationFactory) -> Conversation:
        """A conversation saved with `save`, continued over ``qa`` (a `mediarag.MediaQA`)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read conversation {path}: {reason}") from exc
        try:
            state = ConversationState.model_validate_json(text)
        except ValueError as exc:
            raise ConfigError(f"{path} is not a saved conversation: {exc}") from exc
        return qa.conversation(state=state)

    # Files -------------------------------------------------------------------------------------

    def add_file(
        self,
        path: str | os.PathLike[str],
        *,
        language: str | None = None,
        progress: FileProgress | None = None,
    ) -> AttachedFile:
        """Add a text (.txt, .md, .rst) or audio/video file to this conversation only.

        Media runs through the same pipeline as an ingested file (``progress`` is called as it
        is transcribed); text is cut into passages of at most
        ``settings.segmentation.max_passage_chars`` characters at paragraph and sentence breaks.
        Adding a file again replaces it.
        """
        file = Path(path).expanduser()
        check_regular_file(file)  # a FIFO or a device would block or never end
        source = str(file.resolve())
        sha = file_sha256(file)
        if is_text_source(source):
            attached = self._text_file(file, source, sha)
        else:
            item = self.pipeline.process(
                file,
                source,
                sha256=sha,
                language=language or self.settings.language,
                task=translation_task(self.settings.translate_to),
                id_prefix="conv-",
                progress=progress,
            )
            attached = AttachedFile(
                source=source,
                kind="media",
                sha256=sha,
                language=item.transcript.language if item.transcript else None,
                duration=item.duration,
                chunks=item.passages,
                transcript=item.stored_transcript(),
            )
            if item.vectors is not None and len(item.vectors) == len(item.passages):
                self._vectors[source] = item.vectors
        self.remove_file(source, keep_vectors=True)
        self.state.files.append(attached)
        return attached

    def remove_file(self, path: str | os.PathLike[str], *, keep_vectors: bool = False) -> bool:
        """Drop an added file; whether it was there."""
        source = str(Path(path).expanduser().resolve())
        before = len(self.state.files)
        self.state.files = [f for f in self.state.files if f.source != source]
        if not keep_vectors:
            self._vectors.pop(source, None)
        return len(self.state.files) != before

    def _text_file(self, file: Path, source: str, sha: str) -> AttachedFile:
        from .segment.recursive import RecursiveCharacterSegmenter

        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise MediaError(source, f"cannot read: {exc.strerror}") from exc
        pieces = RecursiveCharacterSegmenter(self.settings.max_passage_chars).split_text(text)
        chunks = [
            Chunk(id=f"conv-{sha[:16]}-{i:05d}", source=source, start=0.0, end=0.0, text=" ".join(p.split()))
            for i, p in enumerate(pieces)
        ]
        if not chunks:
            raise MediaError(source, "the file holds no text")
        self._vectors.pop(source, None)
        return AttachedFile(source=source, kind="text", sha256=sha, chunks=chunks)

    # Questions ---------------------------------------------------------------------------------

    def standalone(self, question: str) -> str:
        """``question`` rewritten to stand alone (see `mediarag.generate.answer.Answerer.standalone`)."""
        return self.answerer.standalone(question, self.messages, self.state.last_query)

    def ask(
        self, question: str, k: int | None = None, *, min_score: float | None = None, speaker: str | None = None
    ) -> Answer:
        """Answer the next question of the conversation (see `ask_stream`)."""
        return self.ask_stream(question, k, min_score=min_score, stream=False, speaker=speaker).answer

    def ask_stream(
        self,
        question: str,
        k: int | None = None,
        *,
        min_score: float | None = None,
        stream: bool = True,
        speaker: str | None = None,
    ) -> AnswerStream[Answer]:
        """The next answer, piece by piece; the turn is remembered once the answer is complete.
        ``speaker``: answer from the passages in which that speaker says something."""
        check_query(question)
        query = self.standalone(question)
        hits = self.retrieve(query, k, min_score, speaker=speaker)
        extra = {} if self.use_knowledge_base else {"no_answer": NO_ANSWER_IN_FILES}
        reply = self.answerer.stream(
            question, hits, self.messages, stream=stream, standalone_question=query, **extra
        )
        return reply.on_result(lambda answer: self._remember(question, query, answer))

    def retrieve(
        self, query: str, k: int | None = None, min_score: float | None = None, *, speaker: str | None = None
    ) -> list[Hit]:
        """The best passages for ``query`` from the index (when on) and the added files
        (``speaker``: only those in which that speaker says something)."""
        k = k or self.retriever.k
        floor = self.retriever.min_score if min_score is None else min_score
        where = PassageFilter(speaker=speaker)
        if not self.use_knowledge_base and not self.state.files:
            return []
        hits: list[Hit] = []
        if self.use_knowledge_base:  # the retriever's own rule when min_score is not given
            hits.extend(retrieve_filtered(self.retriever, query, where, k, min_score))
        if self.state.files and isinstance(self.retriever, HybridRetriever):
            fused = self._fused_file_hits(self.retriever, query, k * WIDEN, min_score)
            hits.extend([h for h in fused if where.accepts(h)][:k])
        elif self.state.files:
            vector = self.retriever.query_vector(query)
            for attached in self.state.files:
                scores = self._file_vectors(attached) @ vector
                ranked = (Hit(chunk=attached.chunks[i], score=float(scores[i])) for i in scores.argsort()[::-1])
                hits.extend([h for h in ranked if h.score >= floor and where.accepts(h)][:k])
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _fused_file_hits(self, retriever: HybridRetriever, query: str, k: int, min_score: float | None) -> list[Hit]:
        """The added files' passages as a hybrid retriever ranks the index's: by meaning and by
        their words, fused, and only when the evidence is enough to answer."""
        from .store.keywords import KeywordIndex
        from .store.terms import PassageTerms

        chunks = [c for f in self.state.files for c in f.chunks]
        dense: list[Hit] = []
        if retriever.mode != "keyword":
            vector = retriever.query_vector(query)
            import numpy as np

            scores = np.concatenate([self._file_vectors(f) @ vector for f in self.state.files])
            dense = [Hit(chunk=chunks[i], score=float(scores[i])) for i in scores.argsort()[::-1][: retriever.candidates]]
        key = tuple((f.source, f.sha256) for f in self.state.files)
        if self._keywords is None or self._keywords[0] != key:
            parts = [(PassageTerms.of_chunks(f.chunks, f.language), f.chunks) for f in self.state.files]
            languages = [c.language or f.language for f in self.state.files for c in f.chunks]
            self._keywords = (key, KeywordIndex(parts, languages=languages))
        keyword = [Hit(chunk=h.chunk, score=h.relative) for h in self._keywords[1].search(query, retriever.candidates)]
        evidence = retriever.combine(dense, keyword, query=query)
        if not retriever.answers(evidence, min_score):
            return []
        return [Hit(chunk=c.chunk, score=c.fused) for c in retriever.supported(evidence, k, min_score)]

    def _file_vectors(self, attached: AttachedFile) -> np.ndarray:
        vectors = self._vectors.get(attached.source)
        if vectors is None:
            vectors = self.retriever.embedder.embed_passages([c.text for c in attached.chunks])
            self._vectors[attached.source] = vectors
        return vectors

    def _remember(self, question: str, query: str, answer: Answer) -> None:
        self.state.messages.append(Message(role="user", content=question))
        self.state.messages.append(Message(role="assistant", content=answer.text))
        keep = 2 * self.state.memory_turns
        self.state.messages = self.state.messages[-keep:] if keep else []
        self.state.last_query = query


def check_writable(path: Path) -> None:
    """`ConfigError` naming ``path`` when a file cannot be written there: a directory, or a
    folder that does not exist."""
    if path.is_dir():
        raise ConfigError(f"cannot save the conversation to {path}: it is a directory")
    if not path.parent.is_dir():
        raise ConfigError(f"cannot save the conversation to {path}: the folder {path.parent} does not exist")
