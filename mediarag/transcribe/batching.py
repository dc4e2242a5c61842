"""`WindowBatcher`: the windows of files transcribed at the same time, decoded together.

A GPU decodes 64 windows in about the time it decodes 8, but one 10-minute file has only about
20 windows. When an engine transcribes several files at once (`PipelinedEngine` with
``model_threads > 1``), each file's thread hands its windows to the one batcher of the
transcriber; whichever waiting thread holds the model next decodes the oldest queued windows
(up to ``batch_size``, of one task; each window with its own language, or None to detect it),
its own or another file's. A decoded window may leave a rest to decode (Whisper's "seek": the
decoding stopped well before the window's end): the rest goes to the front of the queue and
is decoded in the next batch, beside other files' windows, rather than in a small batch of its
own. Once a window is done, the thread that queued it gets its results and finishes it
(``finish``: the CPU work that needs no model) while the model decodes the next batch. No
thread of its own is started, so there is nothing to stop. A batch that fails fails every file
that had a window in it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from ..schema import Segment, Task

#: What decoding a window gives: its result, and what is left of it to decode next (a window
#: and its language), or None when it is done.
Decoded = tuple[Any, "tuple[Any, str | None] | None"]
DecodeBatch = Callable[[Sequence[Any], Sequence["str | None"], Task], list[Decoded]]


@dataclass
class _Entry:
    task: Task
    window: Any
    language: str | None
    future: Future[list[Any]]
    results: list[Any] = field(default_factory=list)


class WindowBatcher:
    """Decodes windows queued by several threads in shared batches.

    Args:
        decode_batch: decodes a batch of windows of one task, each with its language (``None``:
            detect it), on the model, returning per window its result and its rest, if any
            (`mediarag.transcribe.batched.WindowDecoder.decode`).
        batch_size: windows decoded together at most.
        finish: turns a window's results (one per decoding of it, in order) into its
            segments, in the thread that queued the window, without the model
            (`mediarag.transcribe.batched.WindowDecoder.finish`); by default the results are
            lists of segments, joined.
        linger: seconds the thread that holds the model waits for a full batch (0: it
            decodes what is queued at once), when `senders` is more than one.
    """

    def __init__(
        self,
        decode_batch: DecodeBatch,
        batch_size: int,
        finish: Callable[[list[Any]], list[Segment]] | None = None,
        linger: float = 0.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if linger < 0:
            raise ValueError(f"linger must be 0 or more seconds, got {linger}")
        self.decode_batch = decode_batch
        self.batch_size = batch_size
        self.finish: Callable[[list[Any]], list[Segment]] = finish if finish is not None else _joined
        self.linger = linger
        #: Threads that hand windows to this batcher at the same time (set by whoever runs them,
        #: `mediarag.engines.PipelinedEngine`): with one, no other file's windows can come, and
        #: nothing is waited for.
        self.senders = 1
        self._queue: deque[_Entry] = deque()
        self._queue_lock = threading.Lock()
        self._queued = threading.Condition(self._queue_lock)
        self._model = threading.Lock()  # one batch on the model at a time
        #: Batches decoded, and the windows in them, rests included (for benchmarks and tests).
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
        futures: list[Future[list[Any]]] = [Future() for _ in windows]
        with self._queue_lock:
            self._queue.extend(_Entry(task, w, language, f) for w, f in zip(windows, futures))
            self._queued.notify_all()
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
        if self.linger > 0 and self.senders > 1:
            with self._queued:
                self._queued.wait_for(lambda: len(self._queue) >= self.batch_size, timeout=self.linger)
        batch = self._take()
        if not batch:
            return
        try:
            decoded = self.decode_batch([e.window for e in batch], [e.language for e in batch], batch[0].task)
        except BaseException as exc:  # noqa: BLE001 - handed to every thread that waits on it
            for entry in batch:
                entry.future.set_exception(exc)
            return
        self.batches += 1
        self.windows += len(batch)
        again = []
        for entry, (result, rest) in zip(batch, decoded):
            entry.results.append(result)
            if rest is None:
                entry.future.set_result(entry.results)
            else:
                entry.window, entry.language = rest
                again.append(entry)
        with self._queue_lock:
            self._queue.extendleft(reversed(again))  # first in the next batch

    def _take(self) -> list[_Entry]:
        """The oldest queued windows of the oldest one's task, up to a batch."""
        with self._queue_lock:
            if not self._queue:
                return []
            task = self._queue[0].task
            batch: list[_Entry] = []
            other: deque[_Entry] = deque()
            while self._queue and len(batch) < self.batch_size:
                entry = self._queue.popleft()
                (batch if entry.task == task else other).append(entry)
            self._queue.extendleft(reversed(other))
            return batch


def _done_prefix(futures: Sequence[Future[Any]], start: int) -> int:
    n = start
    while n < len(futures) and futures[n].done():
        n += 1
    return n


def _joined(results: list[Any]) -> list[Segment]:
    return [segment for segments in results for segment in segments]
