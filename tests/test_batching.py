"""`WindowBatcher`: windows queued by threads that transcribe at the same time are decoded in
shared batches, and every thread gets its own windows' segments back, in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from mediarag.schema import Segment
from mediarag.transcribe.batching import WindowBatcher


class Recorder:
    """A decode function that names each window's segment after it, records the batches it is
    given (windows and languages), and holds the first batch until the test has seen every
    window queued. A window named ``...+`` leaves a rest (the name without the ``+``, in
    language ``xx``)."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[tuple[list[str], list[str | None]]] = []
        self.all_queued = threading.Barrier(2)
        self.fail_on = fail_on

    def __call__(self, windows: Sequence[str], languages: Sequence[str | None], task: str) -> list:
        self.batches.append((list(windows), list(languages)))
        if len(self.batches) == 1:
            self.all_queued.wait(timeout=10)
        if self.fail_on in windows:
            raise RuntimeError(f"cannot decode {self.fail_on}")
        return [
            ([Segment(start=0.0, end=1.0, text=w)], (w.rstrip("+"), "xx") if w.endswith("+") else None)
            for w in windows
        ]


def run_threads(batcher: WindowBatcher, jobs: dict[str, tuple[list[str], str | None]], recorder: Recorder) -> dict:
    results: dict[str, object] = {}

    def work(name: str) -> None:
        windows, language = jobs[name]
        try:
            results[name] = [" ".join(x.text for x in s) for s in batcher.decode(windows, language, "transcribe")]
        except RuntimeError as exc:
            results[name] = exc

    threads = [threading.Thread(target=work, args=(name,)) for name in jobs]
    for t in threads:
        t.start()
    total = sum(len(w) for w, _ in jobs.values())
    while len(batcher._queue) + sum(len(w) for w, _ in recorder.batches) < total:  # noqa: SLF001
        threading.Event().wait(0.01)
    recorder.all_queued.wait(timeout=10)
    for t in threads:
        t.join(timeout=10)
    return results


def test_windows_of_several_threads_share_batches() -> None:
    recorder = Recorder()
    batcher = WindowBatcher(recorder, batch_size=4)
    jobs = {f: ([f"{f}{i}" for i in range(3)], "en") for f in ("a", "b", "c")}
    results = run_threads(batcher, jobs, recorder)
    assert results == {f: [f"{f}{i}" for i in range(3)] for f in jobs}
    assert all(len(windows) <= 4 for windows, _ in recorder.batches)
    assert batcher.batches == len(recorder.batches) <= 3 and batcher.windows == 9
    assert any(len({w[0] for w in windows}) > 1 for windows, _ in recorder.batches)  # files mixed


def test_each_window_keeps_its_language_in_a_shared_batch() -> None:
    recorder = Recorder()
    batcher = WindowBatcher(recorder, batch_size=8)
    results = run_threads(batcher, {"en": (["e1", "e2"], "en"), "es": (["s1", "s2"], "es"), "?": (["d1"], None)}, recorder)
    assert results == {"en": ["e1", "e2"], "es": ["s1", "s2"], "?": ["d1"]}
    given = {w: lang for windows, languages in recorder.batches for w, lang in zip(windows, languages)}
    assert given == {"e1": "en", "e2": "en", "s1": "es", "s2": "es", "d1": None}


def test_a_rest_is_decoded_in_the_next_batch_beside_new_windows() -> None:
    """A window that leaves a rest is not decoded again on its own: the rest goes first into
    the next batch, in the language its first decoding found, and the window's results are
    its decodings in order."""
    recorder = Recorder()
    batcher = WindowBatcher(recorder, batch_size=2)
    results = run_threads(batcher, {"a": (["a0+", "a1"], None), "b": (["b0", "b1"], None)}, recorder)
    assert results == {"a": ["a0+ a0", "a1"], "b": ["b0", "b1"]}
    batches = [windows for windows, _ in recorder.batches]
    first = next(i for i, w in enumerate(batches) if "a0+" in w)
    assert batches[first + 1][0] == "a0" and len(batches[first + 1]) == 2  # the rest, beside a new window
    assert dict(zip(*recorder.batches[first + 1]))["a0"] == "xx"
    assert batcher.windows == 5


def test_a_failed_batch_fails_the_files_in_it_only() -> None:
    recorder = Recorder(fail_on="b0")
    batcher = WindowBatcher(recorder, batch_size=1)
    results = run_threads(batcher, {"a": (["a0"], "en"), "b": (["b0"], "en")}, recorder)
    assert results["a"] == ["a0"]
    assert isinstance(results["b"], RuntimeError) and "b0" in str(results["b"])


def test_each_thread_finishes_its_own_windows() -> None:
    """The thread that decoded a shared batch hands the results over; each window is finished
    (``finish``, the work that needs no model) by the thread that queued it."""
    finished_by: dict[str, str] = {}
    decoded_by: list[str] = []

    def decode(windows: Sequence[str], languages: Sequence[str | None], task: str) -> list:
        decoded_by.append(threading.current_thread().name)
        return [([Segment(start=0.0, end=1.0, text=w)], None) for w in windows]

    def finish(results: list[list[Segment]]) -> list[Segment]:
        segments = [s for found in results for s in found]
        finished_by[segments[0].text] = threading.current_thread().name
        return [Segment(start=s.start, end=s.end, text=s.text.upper()) for s in segments]

    batcher = WindowBatcher(decode, batch_size=8, finish=finish)
    results: dict[str, list[str]] = {}

    def work(name: str) -> None:
        results[name] = [s[0].text for s in batcher.decode([f"{name}0", f"{name}1"], "en", "transcribe")]

    threads = [threading.Thread(target=work, args=(name,), name=name) for name in ("a", "b")]
    with batcher._model:  # noqa: SLF001 - both files queue before either can decode
        for t in threads:
            t.start()
        while len(batcher._queue) < 4:  # noqa: SLF001
            threading.Event().wait(0.01)
    for t in threads:
        t.join(timeout=10)
    assert results == {"a": ["A0", "A1"], "b": ["B0", "B1"]}
    assert len(decoded_by) == 1  # one thread decoded both files' windows...
    assert finished_by == {"a0": "a", "a1": "a", "b0": "b", "b1": "b"}  # ...each finished its own


def test_a_lone_sender_never_lingers() -> None:
    """With one thread handing windows over (``senders`` 1, the default), no other file's
    windows can come: a batch short of full is decoded at once, not after ``linger``."""
    recorder = Recorder()
    recorder.all_queued = threading.Barrier(1)
    batcher = WindowBatcher(recorder, batch_size=4, linger=30.0)
    started = time.monotonic()
    assert [s[0].text for s in batcher.decode(["a0", "a1"], "en", "transcribe")] == ["a0", "a1"]
    assert time.monotonic() - started < 10.0


def test_batch_size_and_linger_are_checked() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        WindowBatcher(Recorder(), batch_size=0)
    with pytest.raises(ValueError, match="linger"):
        WindowBatcher(Recorder(), batch_size=1, linger=-1)


def test_the_model_holder_lingers_for_a_full_batch() -> None:
    """With ``linger``, the thread that holds the model waits (at most that long) until a full
    batch is queued: a second file's windows, queued a moment later, join the first batch."""
    recorder = Recorder()
    recorder.all_queued = threading.Barrier(1)  # hold nothing
    batcher = WindowBatcher(recorder, batch_size=4, linger=5.0)
    batcher.senders = 2
    results: dict[str, list[str]] = {}

    def work(name: str) -> None:
        results[name] = [s[0].text for s in batcher.decode([f"{name}0", f"{name}1"], "en", "transcribe")]

    first = threading.Thread(target=work, args=("a",))
    first.start()
    threading.Event().wait(0.3)
    second = threading.Thread(target=work, args=("b",))
    second.start()
    first.join(timeout=10)
    second.join(timeout=10)
    assert results == {"a": ["a0", "a1"], "b": ["b0", "b1"]}
    assert [sorted(w) for w, _ in recorder.batches] == [["a0", "a1", "b0", "b1"]]
