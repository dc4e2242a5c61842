"""`RayEngine`: a batch's files spread over the workers of a Ray cluster (``mediarag[ray]``).

Each worker is a Ray actor (`mediarag.engines.worker.FileWorker`) that builds the pipeline once
from the driver's `Settings` (so its models load once) and runs the same per-file code as the
local path on one file at a time; it hands back the file's passages and vectors. The driver
alone writes the index, committing each file as it comes back, so a crash loses at most the
files in flight and never leaves a half-written index.

Failures:

* a file that cannot be processed comes back as a failure naming it; the others go on;
* a worker process that dies (killed, out of memory, a crashed decoder) is restarted by Ray,
  which runs its files again (``max_retries`` times); each file is committed once, when its
  result arrives, so nothing is lost or indexed twice;
* a file whose worker died more than ``max_retries`` times is reported failed.

Files are read where the workers run: local paths must be visible to them (one machine, or a
shared file system); ``s3://`` objects are downloaded by the worker that processes them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, MediaRagError, MissingDependencyError
from ..pipeline.base import chosen_stages
from ..pipeline.ingest import IngestJob, IngestOptions, Outcome
from .worker import FileWorker

if TYPE_CHECKING:
    from ..pipeline.pipeline import Pipeline
    from ..progress import FileProgress
    from ..settings import Settings

#: Seconds between progress reports of one file from a worker.
PROGRESS_SECONDS = 2.0


class RayJobError(MediaRagError):
    """A file failed on a Ray worker (the message names the file and the cause)."""


def import_ray() -> Any:
    """The ``ray`` module; `MissingDependencyError` naming the extra when it is not installed."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("ray", extra="ray", purpose="the Ray engine") from exc
    return ray


class RayEngine:
    """Runs a batch on a Ray cluster (see the module's description).

    Args:
        settings: what the workers build their pipeline from; default: the settings the
            driver's pipeline was built from (`MediaQA.ingest` passes them on).
        address: the cluster to join (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:10001"``);
            None starts a local one on this machine for the batch (stopped afterwards). A Ray
            already initialised in this process is used as it is.
        workers: how many workers; default: as many as the cluster's CPUs (or GPUs, with
            ``num_gpus``) allow, at most one per file.
        num_cpus: CPUs each worker holds (its CPU threads).
        num_gpus: GPUs each worker holds (fractions share one GPU).
        max_retries: how often a worker that died is restarted and its file run again.
        runtime_env: Ray's runtime environment for the workers (``{"pip": [...]}``,
            ``{"env_vars": {...}}``...); mediarag must be importable there.
        init_options: more ``ray.init`` arguments when this engine connects or starts Ray.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        address: str | None = None,
        workers: int | None = None,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        max_retries: int = 3,
        runtime_env: Mapping[str, Any] | None = None,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        if num_cpus < 0 or num_gpus < 0:
            raise ConfigError(f"num_cpus and num_gpus must not be negative, got {num_cpus}, {num_gpus}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must not be negative, got {max_retries}")
        self.settings = settings
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.max_retries = max_retries
        self.runtime_env = dict(runtime_env or {})
        self.init_options = dict(init_options or {})
        #: How many times a worker died during the last `run` (Ray restarted it).
        self.worker_deaths = 0

    def run(
        self, pipeline: Pipeline, jobs: Sequence[IngestJob], options: IngestOptions, progress: FileProgress | None
    ) -> Iterator[tuple[IngestJob, Outcome]]:
        settings = self.settings or pipeline.settings
        if settings is None:
            raise ConfigError("RayEngine needs the settings its workers build their pipeline from: RayEngine(settings=...)")
        if not jobs:
            return
        ray = import_ray()
        owned = self._connect(ray)
        actors: list[Any] = []
        try:
            stages = chosen_stages(settings.stages)
            env = {"env_vars": {"MEDIARAG_PROGRESS": "0", **self.runtime_env.get("env_vars", {})}}
            worker_class = ray.remote(FileWorker).options(
                num_cpus=self.num_cpus,
                num_gpus=self.num_gpus,
                max_restarts=self.max_retries,
                max_task_retries=self.max_retries,
                runtime_env={**self.runtime_env, **env},
            )
            sink = _progress_sink(ray) if progress is not None else None
            actors = [worker_class.remote(settings, stages) for _ in range(self._count(ray, len(jobs)))]
            yield from self._dispatch(ray, actors, jobs, options, progress, sink)
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)
            if owned:
                ray.shutdown()

    # ------------------------------------------------------------------ cluster

    def _connect(self, ray: Any) -> bool:
        """Join or start a cluster unless Ray is already initialised; whether we did."""
        if ray.is_initialized():
            return False
        options: dict[str, Any] = {
            "log_to_driver": False,
            "logging_level": logging.WARNING,
            "configure_logging": True,
            **self.init_options,
        }
        if self.address is None:  # a cluster of this machine alone, on loopback, for this batch
            options.update(address="local")
            options.setdefault("include_dashboard", False)
            options.setdefault("_node_ip_address", "127.0.0.1")
        else:
            options["address"] = self.address
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self.address or "a local cluster"
            raise ConfigError(f"cannot start or join Ray ({where}): {exc}") from exc
        return True

    def _count(self, ray: Any, jobs: int) -> int:
        if self.workers is not None:
            return min(self.workers, jobs)
        resources = ray.cluster_resources()
        if self.num_gpus > 0:
            slots = resources.get("GPU", 0) / self.num_gpus
            if slots < 1:
                raise ConfigError(f"the Ray cluster has no GPU for workers of num_gpus={self.num_gpus}")
        else:
            slots = resources.get("CPU", 1) / self.num_cpus if self.num_cpus else resources.get("CPU", 1)
        return max(1, min(int(slots), jobs))

    # ------------------------------------------------------------------ the batch

    def _dispatch(
        self,
        ray: Any,
        actors: list[Any],
        jobs: Sequence[IngestJob],
        options: IngestOptions,
        progress: FileProgress | None,
        sink: Any,
    ) -> Iterator[tuple[IngestJob, Outcome]]:
        """Two files in flight per worker (one running, one queued behind it); yield each
        outcome as it arrives, once per job."""
        from ray.exceptions import RayActorError, RayError

        self.worker_deaths = 0
        waiting = deque(jobs)
        running: dict[Any, tuple[IngestJob, Any]] = {}
        reported: set[int] = set()
        relay = _Relay(sink) if sink is not None else None

        def submit(actor: Any) -> None:
            if waiting:
                job = waiting.popleft()
                callback = relay.callback() if relay is not None else None
                running[actor.run.remote(job, options, callback)] = (job, actor)

        for actor in actors:
            submit(actor)
            submit(actor)
        alive = set(range(len(actors)))
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            if relay is not None:
                relay.forward(ray, progress)  # type: ignore[arg-type]
            for ref in ready:
                job, actor = running.pop(ref)
                outcome: Outcome
                try:
                    status, value = ray.get(ref)
                except RayActorError as exc:
                    self.worker_deaths += 1
                    alive.discard(next(i for i, a in enumerate(actors) if a is actor))
                    outcome = RayJobError(f"{job.source}: its Ray worker died {self.max_retries + 1} times ({exc})")
                    actor = None
                except RayError as exc:
                    outcome = RayJobError(f"{job.source}: {type(exc).__name__}: {exc}")
                else:
                    outcome = value if status == "done" else None if status == "unchanged" else RayJobError(str(value))
                if id(job) not in reported:  # each job once, whatever Ray retried
                    reported.add(id(job))
                    yield job, outcome
                if actor is not None:
                    submit(actor)
                elif not alive and waiting:
                    while waiting:
                        lost = waiting.popleft()
                        yield lost, RayJobError(f"{lost.source}: every Ray worker died")
        if relay is not None:
            relay.forward(ray, progress)  # type: ignore[arg-type]


class _ProgressSink:
    """Collects (source, seconds done, duration) reports from the workers."""

    def __init__(self) -> None:
        self.reports: dict[str, tuple[float, float]] = {}

    def report(self, source: str, done: float, total: float) -> None:
        self.reports[source] = (done, total)

    def drain(self) -> dict[str, tuple[float, float]]:
        out, self.reports = self.reports, {}
        return out


def _progress_sink(ray: Any) -> Any:
    return ray.remote(_ProgressSink).options(num_cpus=0).remote()


class _Relay:
    """Worker-side callbacks that report to the sink now and then; the driver forwards them."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def callback(self) -> _Reporter:
        return _Reporter(self.sink)

    def forward(self, ray: Any, progress: FileProgress) -> None:
        for source, (done, total) in ray.get(self.sink.drain.remote()).items():
            progress(source, done, total)


class _Reporter:
    """A `FileProgress` that sends at most one report every `PROGRESS_SECONDS` (and the last)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.last = 0.0

    def __call__(self, source: str, done: float, total: float) -> None:
        now = time.monotonic()
        if done >= total or now - self.last >= PROGRESS_SECONDS:
            self.last = now
            self.sink.report.remote(source, done, total)

