"""Ingest jobs: a table kept on disk, and one worker that runs them one at a time.

A job is what one ``POST /v1/ingest`` asked for: uploaded files, or a URL. Its record is kept in
``jobs.json`` (written whole, atomically, at every change of state and at most once a second
while it runs), so ``GET /v1/jobs/{id}`` answers after a restart too. When the server stops
during a job (killed, or stopped before the file in progress was done), the next start reports
that job failed, keeps the files committed before the stop, and removes the uploads that never
made it into the index; queued jobs run then. The index's commits are atomic per file, so a
file being ingested at the stop leaves no trace.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from ..app.uploads import display_name
from ..errors import MediaRagError
from ..files import write_atomic

log = logging.getLogger("mediarag.server")

JobState = Literal["queued", "running", "done", "failed"]

#: Finished jobs kept in the table (the oldest go first).
KEEP_FINISHED = 1000
#: Seconds between two writes of the table while a job only makes progress.
SAVE_EVERY = 1.0


class JobProgress(BaseModel):
    """How far a job is: files done of how many (None: not known yet, e.g. an s3:// prefix),
    and the file being transcribed with its seconds done of its duration."""

    files_done: int = 0
    files_total: int | None = None
    current: str | None = None
    seconds: float = 0.0
    duration: float | None = None

    @property
    def fraction(self) -> float | None:
        """Done, from 0 to 1 (None when the number of files is not known)."""
        if not self.files_total:
            return None
        part = self.seconds / self.duration if self.duration else 0.0
        return round(min(1.0, (self.files_done + min(part, 1.0)) / self.files_total), 4)


class Job(BaseModel):
    """One ingest request and what became of it. ``inputs`` are local paths (stored uploads)
    or one URL; ``names`` are the names the client knows them by."""

    id: str
    state: JobState = "queued"
    created: float = Field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    names: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)
    progress: JobProgress = Field(default_factory=JobProgress)
    report: dict | None = Field(None, description="What the ingest did, as `mediarag ingest --json` prints it.")
    error: str | None = None

    def public(self) -> dict:
        """The job as the API shows it (the server's input paths left out)."""
        out = self.model_dump(exclude={"inputs"})
        out["progress"]["fraction"] = self.progress.fraction
        return out


class JobTable:
    """The jobs of one server, in memory and in ``path`` (JSON)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._saved = 0.0
        self._load()

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise MediaRagError(f"cannot read the job table {self.path}: {exc.strerror}") from exc
        try:
            jobs = _JobList.model_validate_json(data).jobs
        except ValueError:
            log.warning("job table %s is unreadable; starting a new one", self.path)
            return
        self._jobs = {job.id: job for job in jobs}

    def new(self, names: list[str], inputs: list[str], files_total: int | None) -> Job:
        """A queued job, recorded."""
        job = Job(id=secrets.token_hex(8), names=names, inputs=inputs, progress=JobProgress(files_total=files_total))
        with self._lock:
            self._jobs[job.id] = job
            self._prune()
        self.save()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.model_copy(deep=True) if job else None

    def all(self) -> list[Job]:
        """Every job, newest first."""
        with self._lock:
            jobs = [j.model_copy(deep=True) for j in self._jobs.values()]
        return sorted(jobs, key=lambda j: j.created, reverse=True)

    def update(self, job_id: str, *, force: bool = True, **changes: object) -> None:
        """Change a job's fields and write the table (``force=False``: at most once a second)."""
        with self._lock:
            job = self._jobs[job_id]
            for name, value in changes.items():
                setattr(job, name, value)
        if force or time.monotonic() - self._saved >= SAVE_EVERY:
            self.save()

    def save(self) -> None:
        """Write the table whole, atomically."""
        with self._lock:
            data = _JobList(jobs=list(self._jobs.values())).model_dump_json().encode("utf-8")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, data)
            self._saved = time.monotonic()

    def _prune(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.state in ("done", "failed")), key=lambda j: j.created)
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]


class _JobList(BaseModel):
    format: Literal["mediarag-server-jobs"] = "mediarag-server-jobs"
    jobs: list[Job] = Field(default_factory=list)


class JobStopped(MediaRagError):
    """The server is stopping: the file in progress is given up (nothing of it is indexed)."""


#: What runs a job: the job, a progress callback, and a flag that is set when the server stops.
JobRunner = Callable[[Job, "Callable[[str, float, float], None]", threading.Event], dict]


class IngestWorker:
    """Runs queued jobs one after another on one thread: the server's single index writer.

    ``run_job(job, progress, stopping)`` does the work and returns the report (as JSON); an
    exception fails the job with its message.
    """

    def __init__(self, table: JobTable, run_job: JobRunner) -> None:
        self.table = table
        self.run_job = run_job
        self.stopping = threading.Event()
        self._queue: list[str] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self.busy = threading.Event()

    def start(self) -> None:
        """Start the thread (queued jobs of an earlier run are taken first)."""
        for job in sorted(self.table.all(), key=lambda j: j.created):
            if job.state == "queued":
                self.submit(job.id)
        self._thread = threading.Thread(target=self._loop, name="mediarag-ingest", daemon=True)
        self._thread.start()

    def submit(self, job_id: str) -> None:
        with self._wake:
            self._queue.append(job_id)
            self._wake.notify()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` seconds; whether it stopped. A job
        cut short is failed, keeping the files committed before."""
        self.stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            with self._wake:
                while not self._queue and not self.stopping.is_set():
                    self._wake.wait()
                if self.stopping.is_set():
                    return
                job_id = self._queue.pop(0)
            self.busy.set()
            try:
                self._run(job_id)
            finally:
                self.busy.clear()

    def _run(self, job_id: str) -> None:
        job = self.table.get(job_id)
        if job is None or job.state != "queued":
            return
        self.table.update(job_id, state="running", started=time.time())
        tracker = _Tracker(self.table, job, self.stopping)
        try:
            report = self.run_job(job, tracker, self.stopping)
        except Exception as exc:  # noqa: BLE001 - the job fails with its message; the worker goes on
            if not isinstance(exc, MediaRagError):
                log.exception("ingest job %s failed", job_id)
            message = str(exc) if isinstance(exc, MediaRagError) else f"internal error ({type(exc).__name__})"
            self.table.update(job_id, state="failed", finished=time.time(), error=message)
            return
        stopped = self.stopping.is_set()
        failed = bool(report.get("failed"))
        progress = self.table.get(job_id).progress  # type: ignore[union-attr]
        if progress.files_total is not None and not stopped:
            progress.files_done, progress.current, progress.seconds = progress.files_total, None, 0.0
        error = None
        if stopped:
            error = "the server stopped during this job; the files indexed before that stay indexed"
        elif failed:
            error = "; ".join(f["error"] for f in report["failed"])
        self.table.update(
            job_id,
            state="failed" if stopped or failed else "done",
            finished=time.time(),
            report=report,
            error=error,
            progress=progress,
        )


class _Tracker:
    """The progress callback of a running job (`mediarag.progress.FileProgress`); once the
    server is stopping it raises `JobStopped`, which gives up the file in progress."""

    def __init__(self, table: JobTable, job: Job, stopping: threading.Event) -> None:
        self.table = table
        self.job_id = job.id
        self.stopping = stopping
        self.progress = job.progress.model_copy()
        self._seen: set[str] = set()

    def __call__(self, source: str, seconds: float, duration: float) -> None:
        if self.stopping.is_set():
            raise JobStopped(f"{source}: not indexed, the server is stopping")
        source = display_name(source)
        p = self.progress
        if p.current is not None and source != p.current and p.current not in self._seen:
            self._seen.add(p.current)
            p.files_done += 1
        p.current, p.seconds, p.duration = source, float(seconds), float(duration)
        with contextlib.suppress(KeyError):
            self.table.update(self.job_id, force=False, progress=p.model_copy())
