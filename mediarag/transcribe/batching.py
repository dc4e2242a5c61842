"""`WindowBatcher`: the windows of files transcribed at the same time, decoded together.

A GPU decodes 64 windows in about the time it decodes 8, but one 10-minute file has only about
20 windows. When an engine transcribes several files at once (`PipelinedEngine` with
``model_threads > 1``), each file's thread hands its windows to the one batcher of the
transcriber; whichever waiting thread holds the model next decodes the oldest queued windows
(up to ``batch_size``, of one language and task), its own or another file's, and hands every
window's result back to the thread that asked, which finishes its own windows (``finish``: the
CPU work that needs no model) while the model decodes the next batch. No thread of its own is
started, so there is nothing to stop. A batch that fails fails every file that had a window in
it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from ..schema import Segment, Task

DecodeBatch = Callable[[Sequence[Any], "str | None", Task], list[Any]]


class WindowBatcher:
    """Decodes windows queued by several threads in shared batches.

    Args:
        decode_batch: decodes a batch of windows of one language (``None``: detect per window)
            and task on the model, returning a result per window
            (`mediarag.transcribe.batched.WindowDecoder.decode`).
        batch_size: windows decoded together at most.
        finish: turns a window's result into its segments, in the thread that queued the
            window, without the model (`mediarag.transcribe.batched.WindowDecoder.finish`);
            by default the result is the segments.
    """

    def __init__(
        self,
        decode_batch: DecodeBatch,
        batch_size: int,
        finish: Callable[[Any], list[Segment]] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.decode_batch = decode_batch
        self.batch_size = batch_size
        self.finish: Callable[[Any], list[Segment]] = finish if finish is not None else _as_is
        self._queue: deque[tuple[tuple[str | None, Task], Any, Future[Any]]] = deque()
        self._queue_lock = threading.Lock()
        self._model = threading.Lock()  # one batch on the model at a time
        #: Batches decoded, and the windows in them (for benchmarks and tests).
        self.batches = 0
        self.windows = 0

    def decode(
        self,
        windows: Sequence[Any],
        language: str | None,
        task: Task,
        progress: Callable[[int], None] | None = None,
    ) -> list[list[Segment]]:
        """Each window's segments. ``progress`` gets how many of ``windows``, from the first,
        are decoded, as that grows."""
        futures: list[Future[Any]] = [Future() for _ in windows]
        with self._queue_lock:
            self._queue.extend(((language, task), w, f) for w, f in zip(windows, futures))
        reported = 0
        while True:
            ready = _done_prefix(futures, reported)
            if ready != reported and progress is not None:
                progress(ready)
            reported = ready
            if ready == len(futures):
                break
            with self._model:
                if futures[reported].done():
                    continue  # another thread decoded it while this one waited for the model
                self._run_one_batch()
        return [self.finish(f.result()) for f in futures]

    def _run_one_batch(self) -> None:
        batch = self._take()
        if not batch:
            return
        (language, task), _, _ = batch[0]
        try:
            results = self.decode_batch([window for _, window, _ in batch], language, task)
        except BaseException as exc:  # noqa: BLE001 - handed to every thread that waits on it
            for _, _, future in batch:
                future.set_exception(exc)
            return
        self.batches += 1
        self.windows += len(batch)
        for (_, _, future), result in zip(batch, results):
            future.set_result(result)

    def _take(self) -> list[tuple[tuple[str | None, Task], Any, Future[Any]]]:
        """The oldest queued windows of the oldest one's language and task, up to a batch."""
        with self._queue_lock:
            if not self._queue:
                return []
            key = self._queue[0][0]
            batch, rest = [], deque()
            while self._queue and len(batch) < self.batch_size:
                entry = self._queue.popleft()
                (batch if entry[0] == key else rest).append(entry)
            self._queue.extendleft(reversed(rest))
            return batch


def _done_prefix(futures: Sequence[Future[Any]], start: int) -> int:
    n = start
    while n < len(futures) and futures[n].done():
        n += 1
    return n


def _as_is(result: Any) -> Any:
    return result
