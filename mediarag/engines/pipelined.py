"""`PipelinedEngine`: one process, the files' stages overlapped so that a GPU never waits.

Three kinds of work run at once, on different files:

* CPU workers (threads) open the next files: content hash, the decode stage, and the
  transcriber's ``prepare`` (voice activity detection) where it has one; with
  ``decode_processes``, the decoding itself runs in that many worker processes
  (`mediarag.engines.decoders`: PyAV holds the GIL for each 20-ms frame it hands over, so
  threads decoding at once mostly wait on each other);
* the model threads (``model_threads``, one by default) run the stages up to and including
  transcribe (the GPU's work), each on its own file, taking files in job order; a transcriber
  with a ``batcher`` (`TransformersTranscriber` with ``windows="vad"``) then decodes the windows
  of those files together (`mediarag.transcribe.batching`);
* the finishing thread runs the stages after it (sentences, passages, embedding).

The driver (`mediarag.pipeline.ingest_files`) commits each file as it comes out, as with every
engine; while it commits, the threads carry on. Decode and VAD spend their time in FFmpeg and
ONNX Runtime, which release the GIL, so threads are enough to keep a GPU fed.

Only files decoded ahead are held in memory: at most ``ahead`` of them (their audio, 16 kHz
float32: 230 MB an hour).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..pipeline.ingest import IngestJob, IngestOptions, Outcome, job_file, open_job
from ..pipeline.item import MediaFile
from ..pipeline.stages import Decode
from .decoders import DecoderProcesses

if TYPE_CHECKING:
    from ..pipeline.base import Stage
    from ..pipeline.pipeline import Pipeline
    from ..progress import FileProgress

_DONE = object()


@dataclass
class StageTimes:
    """Where an engine's time went: busy seconds per stage (summed over files and threads),
    ``vad`` for the transcriber's ``prepare``, ``model_idle`` for the model thread waiting
    for a decoded file, and ``driver`` for the time the driver kept the engine waiting
    (committing); ``wall`` is the whole run."""

    busy: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    wall: float = 0.0

    def add(self, name: str, seconds: float) -> None:
        self.busy[name] += seconds


@dataclass
class _Work:
    job: IngestJob
    item: MediaFile | None = None
    error: Exception | None = None
    stack: ExitStack = field(default_factory=ExitStack)

    def outcome(self) -> Outcome:
        return self.error if self.error is not None else self.item


class PipelinedEngine:
    """Runs a batch in this process with decoding, transcription and the later stages of
    different files overlapped (see the module's description).

    Args:
        workers: CPU threads that decode files (and run VAD) ahead of the model.
        ahead: files decoded ahead of the model at most (default ``2 * workers``).
        model_threads: files transcribed at the same time (their windows batched together
            where the transcriber can).
        decode_processes: worker processes that decode the audio (0: the CPU threads do).
    """

    def __init__(
        self, workers: int = 4, ahead: int | None = None, *, model_threads: int = 1, decode_processes: int = 0
    ) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        if ahead is not None and ahead < 1:
            raise ConfigError(f"ahead must be at least 1, got {ahead}")
        if model_threads < 1:
            raise ConfigError(f"model_threads must be at least 1, got {model_threads}")
        if decode_processes < 0:
            raise ConfigError(f"decode_processes must be 0 or more, got {decode_processes}")
        self.workers = workers
        self.ahead = max(ahead or 2 * workers, model_threads)
        self.model_threads = model_threads
        self.decode_processes = decode_processes
        #: What the last `run` spent its time on.
        self.times = StageTimes()

    def run(
        self, pipeline: Pipeline, jobs: Sequence[IngestJob], options: IngestOptions, progress: FileProgress | None
    ) -> Iterator[tuple[IngestJob, Outcome]]:
        names = pipeline.names
        first, model = _stage_ranges(names)
        stages = pipeline.stages
        times = self.times = StageTimes()
        transcriber = getattr(pipeline.stage("transcribe"), "transcriber", None) if "transcribe" in names else None
        prepare = getattr(transcriber, "prepare", None)
        share = getattr(transcriber, "share", None)  # its windows are batched across the model threads
        if share is not None:
            share(self.model_threads)
        stop = threading.Event()
        finished: queue.Queue[_Work | object] = queue.Queue()
        handed: queue.Queue[_Work | object] = queue.Queue(maxsize=2)
        start = time.perf_counter()
        processes = DecoderProcesses(self.decode_processes) if self.decode_processes else None
        decoding = Decode(decoder=processes.decode) if processes is not None else None

        def timed(stage: Stage, work: _Work) -> None:
            t = time.perf_counter()
            try:
                pipeline.run_stage(stage, work.item)  # type: ignore[arg-type]
            finally:
                times.add(stage.name, time.perf_counter() - t)

        def fetch(job: IngestJob) -> _Work:
            work = _Work(job)
            try:
                if stop.is_set():
                    raise InterruptedError("the batch was stopped")
                path = work.stack.enter_context(job_file(job, options))
                work.item = open_job(job, path, options, progress)
                if work.item is not None:
                    for stage in stages[:first]:
                        timed(decoding if decoding is not None and stage.name == "decode" else stage, work)
                    if prepare is not None and work.item.audio is not None:
                        t = time.perf_counter()
                        prepare(work.item.audio)
                        times.add("vad", time.perf_counter() - t)
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
                work.error = exc
            return work

        def finish(work: _Work) -> None:
            if work.item is not None:
                work.item.audio = None
            work.stack.close()
            finished.put(work)

        queued = iter(jobs)
        pending: deque[Future[_Work]] = deque()
        taking = threading.Lock()
        running = self.model_threads  # model threads not yet finished

        def next_work(pool: ThreadPoolExecutor) -> _Work | None:
            """The next file in job order, once opened; another one is opened in its place."""
            with taking:
                while len(pending) < self.ahead:
                    job = next(queued, None)
                    if job is None:
                        break
                    pending.append(pool.submit(fetch, job))
                if not pending or stop.is_set():
                    return None
                future = pending.popleft()
            t = time.perf_counter()
            work = future.result()
            times.add("model_idle", time.perf_counter() - t)
            return work

        def model_loop(pool: ThreadPoolExecutor) -> None:
            nonlocal running
            try:
                while (work := next_work(pool)) is not None:
                    if work.error is None and work.item is not None:
                        try:
                            for stage in stages[first:model]:
                                timed(stage, work)
                        except Exception as exc:  # noqa: BLE001
                            work.error = exc
                    handed.put(work)
            finally:
                with taking:
                    running -= 1
                    last = running == 0
                if last:
                    while pending:  # files opened ahead and not needed now
                        future = pending.popleft()
                        if not future.cancel():
                            future.result().stack.close()
                    handed.put(_DONE)

        def finish_loop() -> None:
            while True:
                work = handed.get()
                if work is _DONE:
                    finished.put(_DONE)
                    return
                assert isinstance(work, _Work)
                if work.error is None and work.item is not None and not stop.is_set():
                    try:
                        for stage in stages[model:]:
                            timed(stage, work)
                    except Exception as exc:  # noqa: BLE001
                        work.error = exc
                finish(work)

        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="mediarag-decode")
        threads = [
            threading.Thread(target=model_loop, args=(pool,), name=f"mediarag-model-{n}", daemon=True)
            for n in range(self.model_threads)
        ]
        threads.append(threading.Thread(target=finish_loop, name="mediarag-finish", daemon=True))
        for thread in threads:
            thread.start()
        try:
            while True:
                work = finished.get()
                if work is _DONE:
                    break
                assert isinstance(work, _Work)
                t = time.perf_counter()
                yield work.job, work.outcome()
                times.add("driver", time.perf_counter() - t)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
            pool.shutdown(wait=True, cancel_futures=True)
            if processes is not None:
                processes.close()
            if share is not None:
                share(1)
            times.wall = time.perf_counter() - start


def _stage_ranges(names: list[str]) -> tuple[int, int]:
    """Where the CPU workers' stages end (after decode) and the model thread's (after
    transcribe, with the registered stages between them)."""
    if "decode" not in names or "transcribe" not in names:
        raise ConfigError("PipelinedEngine needs a pipeline with decode and transcribe stages")
    return names.index("decode") + 1, names.index("transcribe") + 1
