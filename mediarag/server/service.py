"""`Service`: what one server process holds: the models, the index (read by many requests at
once, written by one ingest worker), the generators a request may choose, and the job table.

Readers share one store behind a `mediarag.store.guarded.GuardedStore`: searches run side by
side, and the store changes (taking in a commit, a delete) only while no search runs. The
ingest worker writes through a store of its own on the same index; after each file it commits,
the readers' store takes the commit in, so a file is answered from as soon as it is committed
and never before. Commits by other processes are taken in every ``refresh_seconds``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..app.uploads import display_name
from ..conversation import Conversation, ConversationState
from ..errors import ConfigError, MediaRagError
from ..formats import report_json
from ..generate.answer import Answerer
from ..generate.prompt import heuristic_rewrite
from ..links import is_s3_url, is_url
from ..qa import MediaQA
from ..retrieve.filters import PassageFilter, retrieve_filtered
from ..retrieve.query import check_query
from ..schema import Answer, Message, SourceInfo
from ..store.guarded import GuardedStore
from .config import ServerConfig
from .errors import Forbidden, NotFound
from .jobs import IngestWorker, Job, JobTable

if TYPE_CHECKING:
    from ..generate.base import AnswerStream, Generator
    from ..store.base import VectorStore

log = logging.getLogger("mediarag.server")

#: What ends an answer in the history a chat client sends back (`mediarag.server.openai`).
SOURCES_HEADING = "\n\nSources:\n"


def media_id(source: str) -> str:
    """The opaque id of an indexed source in URLs: 16 hex digits of its SHA-256."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


class Service:
    """The server's shared state (built once per process by `mediarag.server.create_app`)."""

    def __init__(self, config: ServerConfig) -> None:
        from ..embed import make_embedder
        from ..store import open_store

        config.check()
        self.config = config
        settings = config.settings
        embedder = make_embedder(settings.embedding, settings.aws)
        store = open_store(settings.location, embedder_name=embedder.name, aws=settings.aws)
        self.store = GuardedStore(store)
        self.qa = MediaQA(settings=settings, embedder=embedder, store=self.store)  # type: ignore[arg-type]
        self.jobs = JobTable(config.jobs_file)
        self.worker = IngestWorker(self.jobs, self._run_job)
        self._generators: dict[str, Generator] = {}
        self._generator_lock = threading.Lock()
        self._local_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(config.answer_slots)
        self._refreshed = time.monotonic()
        self._refresh_lock = threading.Lock()
        self._ids: tuple[Any, dict[str, str]] = (object(), {})

    # Life ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Load what questions need, settle jobs an earlier run left, start the ingest worker."""
        self.config.library_dir.mkdir(parents=True, exist_ok=True)
        self.clean_incoming()
        self.qa.embedder.warm_up()
        self.generator(self.config.settings.generation.backend)
        self._recover()
        self.worker.start()

    def stop(self) -> None:
        """Stop the ingest worker (waiting ``shutdown_seconds`` for the file in progress)."""
        if not self.worker.stop(self.config.shutdown_seconds):
            log.warning("an ingest was still running at shutdown; it will be reported failed at the next start")
        log.info("stopped")

    def _recover(self) -> None:
        """Jobs that were running when the server last stopped: failed, keeping what was committed."""
        indexed = set(self.store.sources())
        for job in self.jobs.all():
            if job.state != "running":
                continue
            kept, lost = [], []
            for name, path in zip(job.names, job.inputs):
                source = path if is_url(path) else str(Path(path).resolve())
                if source in indexed:
                    kept.append(source)
                else:
                    lost.append(name)
                    self._remove_upload(path)
            report = {"ingested": [{"source": s} for s in kept], "skipped": [], "warnings": [],
                      "failed": [{"source": n, "error": f"{n}: not indexed, the server stopped"} for n in lost]}  # fmt: skip
            self.jobs.update(
                job.id,
                state="failed",
                finished=time.time(),
                report=report,
                error="the server stopped while this job was running; files indexed before that stay indexed",
            )

    # Reading -----------------------------------------------------------------------------------

    def refresh_if_due(self) -> None:
        """Take in what other processes committed, at most every ``refresh_seconds``."""
        now = time.monotonic()
        if now - self._refreshed < self.config.refresh_seconds or not self._refresh_lock.acquire(blocking=False):
            return
        try:
            self._refreshed = now
            self.store.refresh()
        except MediaRagError as exc:
            log.warning("cannot take in the index's latest commit: %s", exc)
        finally:
            self._refresh_lock.release()

    def generator(self, kind: str | None) -> Generator:
        """The generator ``kind`` (None: the settings' own), built and warmed up once;
        `Forbidden` when the server's configuration does not offer it."""
        from ..generate import make_generator

        kind = kind or self.config.settings.generation.backend
        if kind not in self.config.allowed_generators:
            raise Forbidden(
                f"generator {kind!r} is not offered by this server; choose one of {', '.join(self.config.allowed_generators)}"
            )
        with self._generator_lock:
            generator = self._generators.get(kind)
            if generator is None:
                settings = self.config.settings.replace(generator=kind)
                generator = make_generator(settings.generation, settings.aws)
                generator.warm_up()
                self._generators[kind] = generator
            return generator

    @contextlib.contextmanager
    def answering(self, kind: str | None) -> Iterator[None]:
        """Hold while an answer is retrieved and written: at most ``answer_slots`` at once unless
        a remote endpoint writes it (more threads would only fight over the cores), and one local
        LLM answer at a time (llama.cpp is not safe to call from two threads)."""
        kind = kind or self.config.settings.generation.backend
        remote = kind in ("openai", "sagemaker")
        with contextlib.nullcontext() if remote else self._slots:
            with self._local_lock if kind == "local" else contextlib.nullcontext():
                yield

    def search(self, query: str, k: int | None, where: PassageFilter) -> list:
        """The best passages for ``query`` (as `mediarag.schema.Hit`)."""
        self.refresh_if_due()
        check_query(query, "search query")
        with self._slots:
            return retrieve_filtered(self.qa.retriever, query, where, k)

    def ask_stream(self, question: str, k: int | None, where: PassageFilter, kind: str | None, *, stream: bool) -> AnswerStream[Answer]:
        """The answer to one question (piece by piece when ``stream``); hold `answering` while
        consuming it."""
        self.refresh_if_due()
        answerer = Answerer(self.generator(kind))
        check_query(question)
        if k is not None and k < 1:
            raise ConfigError(f"k must be at least 1, got {k}")
        hits = retrieve_filtered(self.qa.retriever, question, where, k)
        return answerer.stream(question, hits, [], stream=stream)

    def conversation(self, turns: list[Message], kind: str | None) -> Conversation:
        """A conversation continued from ``turns`` (user and assistant messages, oldest first,
        without the new question): follow-ups are rewritten as in `mediarag.Conversation`."""
        self.refresh_if_due()
        answerer = Answerer(self.generator(kind))
        memory = self.config.settings.memory_turns
        history = [Message(role=m.role, content=m.content.split(SOURCES_HEADING, 1)[0]) for m in turns]
        last_query = None
        for m in history:
            if m.role == "user":
                last_query = heuristic_rewrite(m.content, last_query)
        state = ConversationState(messages=history[-2 * memory :] if memory else [], memory_turns=memory, last_query=last_query)
        return Conversation(
            pipeline=self.qa.pipeline,
            retriever=self.qa.retriever,
            answerer=answerer,
            settings=self.config.settings,
            state=state,
        )

    # The library -------------------------------------------------------------------------------

    def sources(self) -> dict[str, SourceInfo]:
        """Every indexed file, by media id."""
        self.refresh_if_due()
        return {media_id(s): info for s, info in self.store.sources().items()}

    def source(self, sid: str) -> str:
        """The source with media id ``sid``; `NotFound` when none has it."""
        self.refresh_if_due()
        generation = getattr(self.store, "generation", None)
        known, ids = self._ids
        if known != generation or generation is None:  # ids are worked out once per generation
            ids = {media_id(s): s for s in self.store.sources()}
            self._ids = (generation, ids)
        source = ids.get(sid)
        if source is None:
            raise NotFound(f"no indexed file has id {sid}")
        return source

    def remove(self, sid: str) -> tuple[str, int]:
        """Remove a file from the index (and its stored upload); its source and passages."""
        source = self.source(sid)
        with self.store.writing():
            self.store.refresh()
            removed = self.store.delete_source(source)
            self.store.commit()
        self._remove_upload(source)
        return source, removed

    def transcript(self, sid: str, fmt: str) -> str:
        return self.qa.export_transcript(self.source(sid), fmt)

    def media_file(self, sid: str) -> tuple[str, Path | None]:
        """The source with id ``sid`` and, when it is a local file that exists, its path."""
        source = self.source(sid)
        if is_url(source):
            return source, None
        path = Path(source)
        return source, path if path.is_file() else None

    # Ingest --------------------------------------------------------------------------------------

    def submit_files(self, names: list[str], paths: list[Path]) -> Job:
        """A job that ingests stored uploads."""
        job = self.jobs.new(names, [str(p) for p in paths], len(paths))
        self.worker.submit(job.id)
        return job

    def submit_url(self, url: str) -> Job:
        """A job that ingests an ``s3://`` object or prefix, or downloads an ``https://`` file."""
        if not self.config.allow_url_ingest:
            raise Forbidden("this server does not ingest from URLs (start it with --allow-url-ingest)")
        if not (is_s3_url(url) or url.lower().startswith("https://")):
            raise ConfigError(f"{url!r}: give an s3:// or https:// URL")
        job = self.jobs.new([url], [url], None if is_s3_url(url) else 1)
        self.worker.submit(job.id)
        return job

    def _run_job(self, job: Job, progress: Any, stopping: threading.Event) -> dict:
        inputs = list(job.inputs)
        if len(inputs) == 1 and inputs[0].lower().startswith("https://"):
            inputs = [str(self._download(inputs[0], stopping))]
            self.jobs.update(job.id, inputs=inputs)  # a stop from here on removes the download
        writer = self._writer()
        report = writer.ingest(inputs, progress=progress)
        indexed = {i.source for i in report.ingested} | set(report.skipped)
        for path in inputs:
            if not is_url(path) and str(Path(path).resolve()) not in indexed:
                self._remove_upload(path)  # a file that failed is not kept
        out = report_json(report)
        for failure in out["failed"]:  # the name the client knows, not the server's path
            failure["error"] = failure["error"].replace(failure["source"], display_name(failure["source"]))
        return out

    def _writer(self) -> MediaQA:
        """The ingest worker's `MediaQA`: the shared models, a store of its own on the same index
        whose every commit the readers take in at once."""
        from ..store import open_store

        settings = self.config.settings
        qa = self.qa
        store = open_store(settings.location, embedder_name=qa.embedder.name, aws=settings.aws)
        return MediaQA(
            settings=settings,
            transcriber=qa.transcriber,
            segmenter=qa.segmenter,
            embedder=qa.embedder,
            store=_AnnouncingStore(store, self.store.refresh),  # type: ignore[arg-type]
        )

    def _download(self, url: str, stopping: threading.Event) -> Path:
        import urllib.request

        from ..app.uploads import LIBRARY_EXTENSIONS, store_upload
        from .uploads import check_extension, client_name

        name = client_name(url.split("?", 1)[0].split("#", 1)[0])
        check_extension(name, LIBRARY_EXTENSIONS)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - https only, checked above
                return store_upload(
                    self.config.library_dir,
                    name,
                    _Reader(response, stopping),  # type: ignore[arg-type]
                    max_bytes=self.config.max_upload_bytes,
                    extensions=LIBRARY_EXTENSIONS,
                )
        except OSError as exc:
            raise MediaRagError(f"{url}: cannot download: {exc}") from exc

    def _remove_upload(self, path: str) -> None:
        """Delete ``path`` when it is a file this server stored (never anything else)."""
        if is_url(path):
            return
        library = self.config.library_dir.resolve()
        target = Path(path).resolve()
        if target.parent == library and target.is_file():
            with contextlib.suppress(OSError):
                target.unlink()

    def clean_incoming(self) -> None:
        """Remove parts of uploads an earlier run was receiving when it stopped."""
        shutil.rmtree(self.config.library_dir / ".incoming", ignore_errors=True)


class _AnnouncingStore:
    """A store that calls ``announce`` after every commit (the readers take it in)."""

    def __init__(self, store: VectorStore, announce: Any) -> None:
        self._store = store
        self._announce = announce

    def commit(self) -> None:
        self._store.commit()
        self._announce()

    def __len__(self) -> int:
        return len(self._store)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class _Reader:
    """Only ``read`` of a download (which store_upload would otherwise try to rewind), and it
    stops when the server does."""

    def __init__(self, response: Any, stopping: threading.Event) -> None:
        self._response = response
        self._stopping = stopping

    def read(self, size: int = -1) -> bytes:
        if self._stopping.is_set():
            raise MediaRagError("download stopped: the server is stopping")
        return self._response.read(size)
