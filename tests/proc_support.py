"""Processes a test started, found through /proc (Linux): their descendants, and their end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live process."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] != "Z":  # a zombie is dead already; only its parent's wait is missing
            parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> set[int]:
    """The live processes below ``pid``: its children, theirs, and so on."""
    parents = _parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    return pids & set(_parents())


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (nothing listens there; connections of a
    stopped server may still linger in TIME_WAIT, as servers allow for with SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_tree(process: subprocess.Popen, known: set[int], timeout: float = 20.0) -> set[int]:
    """Stop ``process`` with SIGTERM (SIGKILL after ``timeout``), then kill, by pid, whatever of
    ``known`` (its descendants, found while it ran) is still alive. Returns those leftovers: the
    processes that did not stop with it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 5
    while alive(known) and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = alive(known)
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return leftovers
