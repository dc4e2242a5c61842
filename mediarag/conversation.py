"""Conversations: follow-up questions, bounded memory, and files added to one conversation only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from .errors import ConfigError, MediaError
from .generate.prompt import heuristic_rewrite
from .links import is_text_source
from .media import check_regular_file, file_sha256
from .progress import FileProgress
from .schema import Answer, Chunk, Hit, Message, Transcript

if TYPE_CHECKING:
    import numpy as np

    from .qa import AnswerStream, MediaQA

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


class Conversation:
    """A chat over a `MediaQA` index, made with `MediaQA.conversation`::

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
    """

    def __init__(
        self,
        qa: MediaQA,
        *,
        memory_turns: int | None = None,
        use_knowledge_base: bool = True,
        state: ConversationState | None = None,
    ) -> None:
        self.qa = qa
        if state is None:
            turns = qa.settings.memory_turns if memory_turns is None else memory_turns
            state = ConversationState(memory_turns=turns, use_knowledge_base=use_knowledge_base)
        self.state = state
        self._vectors: dict[str, np.ndarray] = {}

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
        """Write the conversation (turns, added files and their passages, settings) as JSON."""
        Path(path).write_text(self.state.model_dump_json(indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str], qa: MediaQA) -> Conversation:
        """A conversation saved with `save`, continued over ``qa``."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read conversation {path}: {exc.strerror}") from exc
        try:
            state = ConversationState.model_validate_json(text)
        except ValueError as exc:
            raise ConfigError(f"{path} is not a saved conversation: {exc}") from exc
        return cls(qa, state=state)

    # Files -------------------------------------------------------------------------------------

    def add_file(
        self,
        path: str | os.PathLike[str],
        *,
        language: str | None = None,
        progress: FileProgress | None = None,
    ) -> AttachedFile:
        """Add a text (.txt, .md, .rst) or audio/video file to this conversation only.

        Media is transcribed and split into passages like an ingested file (``progress`` is
        called as it is transcribed); text is cut into passages of at most
        ``Settings.max_passage_chars`` characters at paragraph and sentence breaks. Adding a file
        again replaces it.
        """
        file = Path(path).expanduser()
        check_regular_file(file)  # a FIFO or a device would block or never end
        source = str(file.resolve())
        sha = file_sha256(file)
        if is_text_source(source):
            attached = self._text_file(file, source, sha)
        else:
            from .qa import stored_transcript, translation_task

            task = translation_task(self.qa.settings.translate_to)
            language = language or self.qa.settings.language
            transcript, sentences, chunks = self.qa._passages(
                file, source, sha, language, task, id_prefix="conv-", progress=progress
            )
            attached = AttachedFile(
                source=source,
                kind="media",
                sha256=sha,
                language=transcript.language,
                duration=transcript.duration,
                chunks=chunks,
                transcript=stored_transcript(transcript, source, sentences),
            )
        self.remove_file(source)
        self.state.files.append(attached)
        return attached

    def remove_file(self, path: str | os.PathLike[str]) -> bool:
        """Drop an added file; whether it was there."""
        source = str(Path(path).expanduser().resolve())
        before = len(self.state.files)
        self.state.files = [f for f in self.state.files if f.source != source]
        self._vectors.pop(source, None)
        return len(self.state.files) != before

    def _text_file(self, file: Path, source: str, sha: str) -> AttachedFile:
        from .segment.recursive import RecursiveCharacterSegmenter

        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise MediaError(source, f"cannot read: {exc.strerror}") from exc
        pieces = RecursiveCharacterSegmenter(self.qa.settings.max_passage_chars).split_text(text)
        chunks = [
            Chunk(id=f"conv-{sha[:16]}-{i:05d}", source=source, start=0.0, end=0.0, text=" ".join(p.split()))
            for i, p in enumerate(pieces)
        ]
        if not chunks:
            raise MediaError(source, "the file holds no text")
        return AttachedFile(source=source, kind="text", sha256=sha, chunks=chunks)

    # Questions ---------------------------------------------------------------------------------

    def standalone(self, question: str) -> str:
        """``question`` rewritten to stand alone: by the generator when it has a ``rewrite``
        method and there is history, else by `mediarag.generate.prompt.heuristic_rewrite`."""
        if not self.state.messages:
            return question.strip()
        rewrite = getattr(self.qa.generator, "rewrite", None)
        if callable(rewrite):
            return str(rewrite(question, self.messages)).strip() or question.strip()
        return heuristic_rewrite(question, self.state.last_query)

    def ask(self, question: str, k: int | None = None, *, min_score: float | None = None) -> Answer:
        """Answer the next question of the conversation (see `ask_stream`)."""
        return self.ask_stream(question, k, min_score=min_score, stream=False).answer

    def ask_stream(
        self, question: str, k: int | None = None, *, min_score: float | None = None, stream: bool = True
    ) -> AnswerStream:
        """The next answer, piece by piece; the turn is remembered once the answer is complete."""
        if not question.strip():
            raise ConfigError("the question is empty")
        query = self.standalone(question)
        hits = self.retrieve(query, k, min_score)
        no_answer = None if self.use_knowledge_base else NO_ANSWER_IN_FILES
        reply = self.qa.answer_stream(
            question,
            hits,
            self.messages,
            stream=stream,
            standalone_question=query,
            **({"no_answer": no_answer} if no_answer else {}),
        )
        return reply.on_answer(lambda answer: self._remember(question, query, answer))

    def retrieve(self, query: str, k: int | None = None, min_score: float | None = None) -> list[Hit]:
        """The best passages for ``query`` from the index (when on) and the added files."""
        k = k or self.qa.settings.k
        floor = self.qa.min_score if min_score is None else min_score
        if not self.use_knowledge_base and not self.state.files:
            return []
        vector = self.qa.embedder.embed_queries([query])[0]
        hits: list[Hit] = []
        if self.use_knowledge_base:
            hits.extend(self.qa._retrieve(query, k, floor, vector=vector))
        for attached in self.state.files:
            scores = self._file_vectors(attached) @ vector
            for i in scores.argsort()[::-1][:k]:
                if scores[i] >= floor:
                    hits.append(Hit(chunk=attached.chunks[i], score=float(scores[i])))
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _file_vectors(self, attached: AttachedFile) -> np.ndarray:
        vectors = self._vectors.get(attached.source)
        if vectors is None:
            vectors = self.qa.embedder.embed_passages([c.text for c in attached.chunks])
            self._vectors[attached.source] = vectors
        return vectors

    def _remember(self, question: str, query: str, answer: Answer) -> None:  # noqa: ARG002
        self.state.messages.append(Message(role="user", content=question))
        self.state.messages.append(Message(role="assistant", content=answer.text))
        keep = 2 * self.state.memory_turns
        self.state.messages = self.state.messages[-keep:] if keep else []
        self.state.last_query = query
