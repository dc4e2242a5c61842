"""Batch ingest: which files to process, running the pipeline on each, committing each one.

The driver (`ingest_files`) is the one writer: an engine runs the pipeline on the files (here,
in this process, one after another; `mediarag.engines` for others) and hands back each file's
passages and vectors, and the driver commits them to the index one file at a time, so an
interruption loses at most the files in flight. A file that fails is reported and leaves no
trace in the index; the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, Field

from ..errors import MediaError, MediaRagError
from ..links import is_s3_url
from ..media import file_sha256, find_media
from ..progress import FileProgress, progress_bar
from ..schema import SourceInfo, Task
from .item import MediaFile
from .pipeline import Pipeline

if TYPE_CHECKING:
    from ..aws.clients import AwsConfig
    from ..store.base import VectorStore


class IngestFailure(BaseModel):
    """A file that could not be indexed, and why."""

    source: str
    error: str


class IngestReport(BaseModel):
    """What one ingest did, file by file."""

    ingested: list[SourceInfo] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    failed: list[IngestFailure] = Field(default_factory=list)
    warnings: list[str] = Field(
        default_factory=list, description="Files indexed with a problem (a damaged tail, a stage that failed)."
    )

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failed


@dataclass(frozen=True)
class IngestJob:
    """One file to ingest: its local path (None for an ``s3://`` object, fetched where it is
    processed), the source it is indexed under, and what the index already holds for it."""

    source: str
    path: Path | None = None
    known: SourceInfo | None = None


@dataclass(frozen=True)
class IngestOptions:
    """How every file of a batch is processed."""

    language: str | None = None
    task: Task = "transcribe"
    aws: AwsConfig | None = None


#: What an engine returns for a job: the processed file, None when it is unchanged, or the
#: error that stopped it.
Outcome = MediaFile | None | Exception


class Engine(Protocol):
    """Runs the pipeline on jobs and yields each job's outcome as it is ready (in any order)."""

    def run(
        self, pipeline: Pipeline, jobs: Sequence[IngestJob], options: IngestOptions, progress: FileProgress | None
    ) -> Iterator[tuple[IngestJob, Outcome]]: ...


class LocalEngine:
    """Runs the pipeline in this process, one file after another."""

    def run(
        self, pipeline: Pipeline, jobs: Sequence[IngestJob], options: IngestOptions, progress: FileProgress | None
    ) -> Iterator[tuple[IngestJob, Outcome]]:
        for job in jobs:
            try:
                yield job, run_job(pipeline, job, options, progress)
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
                yield job, exc


def plan_jobs(
    paths: Iterable[str | os.PathLike[str]],
    store: VectorStore,
    *,
    base_url: str | None = None,
    aws: AwsConfig | None = None,
) -> tuple[list[IngestJob], list[IngestFailure]]:
    """The files ``paths`` name (files, directories searched recursively, ``s3://`` objects or
    prefixes), each with what ``store`` holds for it; paths that cannot be read are failures.

    ``base_url`` records local files under a URL instead of their path: a file found under a
    directory given in ``paths`` becomes ``base_url`` plus its path relative to that directory.
    """
    jobs: list[IngestJob] = []
    failures: list[IngestFailure] = []
    known = store.sources()
    for raw in paths:
        try:
            found = _find(raw, base_url, aws)
        except MediaError as exc:
            failures.append(IngestFailure(source=exc.source, error=str(exc)))
            continue
        except MediaRagError as exc:
            failures.append(IngestFailure(source=str(raw), error=failure_message(exc, str(raw))))
            continue
        for path, source in found:
            info = known.get(source)
            if info is not None and not store.has_transcript(source):
                info = None  # its transcript was lost: ingest it again
            jobs.append(IngestJob(source=source, path=path, known=info))
    return jobs, failures


def _find(raw: str | os.PathLike[str], base_url: str | None, aws: AwsConfig | None) -> list[tuple[Path | None, str]]:
    if is_s3_url(raw):
        from ..aws.s3 import S3

        return [(None, url) for url in S3(aws).media_urls(str(raw))]
    found = list(find_media([raw]))
    if base_url is None:
        return [(p, str(p.resolve())) for p in found]
    root = Path(raw).expanduser()
    base = base_url.rstrip("/")
    return [(p, f"{base}/{(p.relative_to(root) if root.is_dir() else Path(p.name)).as_posix()}") for p in found]


def run_job(pipeline: Pipeline, job: IngestJob, options: IngestOptions, progress: FileProgress | None = None) -> MediaFile | None:
    """Process one job: None when its content is what the index already holds."""
    with job_file(job, options) as path:
        item = open_job(job, path, options, progress)
        return None if item is None else pipeline.run(item)


@contextmanager
def job_file(job: IngestJob, options: IngestOptions) -> Iterator[Path]:
    """The job's file on this machine: its path, or an ``s3://`` object downloaded to a
    temporary file that is removed afterwards."""
    if job.path is not None:
        yield job.path
        return
    from ..aws.s3 import S3

    with S3(options.aws).downloaded(job.source) as local:
        yield local


def open_job(job: IngestJob, path: Path, options: IngestOptions, progress: FileProgress | None = None) -> MediaFile | None:
    """The `MediaFile` a job starts as (its content hash taken from ``path``), or None when
    that content is what the index already holds."""
    sha = file_sha256(path)
    if job.known is not None and job.known.sha256 == sha and job.known.task == options.task:
        return None
    return MediaFile(path=path, source=job.source, sha256=sha, language=options.language, task=options.task, progress=progress)


def commit_file(
    store: VectorStore, item: MediaFile, *, transcripts_url: str | None = None, aws: AwsConfig | None = None
) -> SourceInfo:
    """Add one processed file to the index and commit it; a failed commit is rolled back, so
    the file leaves no trace. With ``transcripts_url`` its transcript and passages are also
    written under that ``s3://`` prefix."""
    info = item.info()
    stored = item.stored_transcript()
    try:
        store.add_source(info, stored, item.passages, item.vectors)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    if transcripts_url is not None:
        from ..aws.s3 import S3, write_outputs

        write_outputs(S3(aws), transcripts_url, stored, item.passages, item.sha256)
    return info


def ingest_files(
    pipeline: Pipeline,
    store: VectorStore,
    jobs: Sequence[IngestJob],
    options: IngestOptions,
    *,
    engine: Engine | None = None,
    progress: FileProgress | None = None,
    transcripts_url: str | None = None,
    report: IngestReport | None = None,
) -> IngestReport:
    """Run ``jobs`` through ``pipeline`` with ``engine`` (default: this process) and commit each
    file as it comes back; returns (and fills) ``report``."""
    report = report or IngestReport()
    engine = engine or LocalEngine()
    with progress_bar(total=len(jobs), desc="Ingesting", unit="file", leave=True) as bar:
        for job, outcome in engine.run(pipeline, jobs, options, progress):
            bar.set_postfix_str(job.source.rsplit("/", 1)[-1], refresh=True)
            if isinstance(outcome, Exception):
                report.failed.append(IngestFailure(source=job.source, error=failure_message(outcome, job.source)))
            elif outcome is None:
                report.skipped.append(job.source)
            else:
                try:
                    info = commit_file(store, outcome, transcripts_url=transcripts_url, aws=options.aws)
                except Exception as exc:  # noqa: BLE001 - reported with the file's name
                    report.failed.append(IngestFailure(source=job.source, error=failure_message(exc, job.source)))
                else:
                    report.ingested.append(info)
                    report.warnings += [w for w in outcome.warnings if w not in report.warnings]
            bar.update(1)
    return report


def failure_message(exc: BaseException, source: str) -> str:
    """The error as a report shows it: our errors' own words (naming the file), others with
    their type; always naming ``source``."""
    text = str(exc) if isinstance(exc, MediaRagError) else f"{type(exc).__name__}: {exc}"
    return text if source in text else f"{source}: {text}"
