"""`DecoderProcesses`: audio decoded in worker processes of mediarag's own.

FFmpeg decodes fast, but PyAV holds the GIL for each 20-ms frame it hands over, so threads that
decode at once mostly wait on each other (on an H200 machine, 8 decoding threads kept the model
waiting). These workers are plain child processes (``python -m mediarag.engines.decode_worker``)
rather than a ``multiprocessing`` pool: a pool's children import the parent's main module, which
breaks scripts without a ``__main__`` guard and apps such as Streamlit's.

The protocol is one JSON line each way per file: the parent sends the path and a file name in a
private temporary folder; the worker decodes (`mediarag.media.decode_audio`), writes the
samples there as a ``.npy`` array (no pickle) and answers with the source, sample rate and
warnings, or with the error. Workers start when first needed and stop with `close` (their
input is closed; one that does not exit is killed).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MediaError
from ..media import Audio


class DecoderProcesses:
    """Decodes files in up to ``processes`` worker processes; `decode` may be called from many
    threads at once (each call uses one worker)."""

    def __init__(self, processes: int) -> None:
        if processes < 1:
            raise ConfigError(f"processes must be at least 1, got {processes}")
        self.processes = processes
        self._idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self._all: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()
        self._folder = Path(tempfile.mkdtemp(prefix="mediarag-decode-"))
        self._count = 0
        self._closed = False

    def decode(self, path: str | os.PathLike[str]) -> Audio:
        """The file's audio, as `mediarag.media.decode_audio` gives it."""
        worker = self._worker()
        with self._lock:
            self._count += 1
            out = self._folder / f"{self._count}.npy"
        try:
            worker.stdin.write(json.dumps({"path": str(path), "out": str(out)}) + "\n")  # type: ignore[union-attr]
            worker.stdin.flush()  # type: ignore[union-attr]
            line = worker.stdout.readline()  # type: ignore[union-attr]
        except OSError:
            line = ""
        if not line:
            code = worker.poll()
            self._drop(worker)
            raise MediaError(str(path), f"the decoding process stopped (exit code {code})")
        self._idle.put(worker)
        reply = json.loads(line)
        try:
            if "reason" in reply:
                raise MediaError(reply["source"], reply["reason"])
            samples = np.load(out, allow_pickle=False)
        finally:
            out.unlink(missing_ok=True)
        return Audio(samples=samples, source=reply["source"], sample_rate=reply["sample_rate"],
                     warnings=tuple(reply["warnings"]))  # fmt: skip

    def close(self) -> None:
        """Stop the workers and remove the temporary folder."""
        with self._lock:
            self._closed = True
            workers, self._all = self._all, []
        for worker in workers:
            try:
                worker.stdin.close()  # type: ignore[union-attr]
                worker.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                worker.kill()
                worker.wait()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> DecoderProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _worker(self) -> subprocess.Popen[str]:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._closed:
                raise RuntimeError("the decoder processes are closed")
            if len(self._all) < self.processes:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "mediarag.engines.decode_worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                )
                self._all.append(worker)
                return worker
        return self._idle.get()

    def _drop(self, worker: subprocess.Popen[str]) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        if worker.poll() is None:
            worker.kill()
        worker.wait()
