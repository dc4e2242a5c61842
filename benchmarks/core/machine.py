"""The machine a benchmark ran on, and how busy it was: CPU, memory, library versions, the
repository state, the cores other processes used while something was timed, and waiting for a
quiet machine before timing."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from .report import log

__all__ = [
    "CpuMonitor",
    "Quiet",
    "cpu_model",
    "describe_git",
    "describe_machine",
    "git_info",
    "machine_info",
    "own_cpu_seconds",
    "rss_mb",
    "version",
    "versions",
    "wait_for_idle",
]

ROOT = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU model, cores this process may use, memory, platform and Python version."""
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "usable_cores": usable,
        "logical_cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def describe_machine(m: dict[str, Any]) -> str:
    return (
        f"{m['cpu_model']}, {m['usable_cores']} usable cores ({m['logical_cores']} logical), "
        f"{m['memory_gb']} GB RAM, {m['platform']}, Python {m['python']}"
    )


def version(name: str) -> str:
    """Installed version of a distribution, or 'not installed'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(names: Iterable[str]) -> dict[str, str]:
    """`version` of each distribution."""
    return {name: version(name) for name in names}


def git_info() -> dict[str, Any]:
    """The commit, and whether the library or the benchmarks had uncommitted changes."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=20, check=False
        ).stdout.strip()

    try:
        return {
            "commit": git("rev-parse", "--short", "HEAD") or None,
            "uncommitted_changes": bool(
                git("status", "--porcelain", "--untracked-files=no", "--", "mediarag", "benchmarks")
            ),
        }
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "uncommitted_changes": None}


def describe_git(info: dict[str, Any]) -> str:
    dirty = " with uncommitted changes under mediarag/ or benchmarks/" if info.get("uncommitted_changes") else ""
    return f"commit {info.get('commit') or 'unknown'}{dirty}"


def _busy_jiffies() -> int | None:
    """Jiffies all CPUs spent busy (steal time included), from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq + steal


def own_cpu_seconds(children: bool = True) -> float:
    """CPU seconds used by this process (and, with ``children``, its waited-for children)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    total = me.ru_utime + me.ru_stime
    if children:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += kids.ru_utime + kids.ru_stime
    return total


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float | None:
    """A memory figure of a process from /proc/<pid>/status (VmRSS, VmHWM), in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


class CpuMonitor:
    """How many cores this process, and all other processes, kept busy while a block ran.

    Anything else on a small machine slows every timing down, so reports say how busy the
    machine was besides the benchmark itself."""

    def __enter__(self) -> CpuMonitor:
        self._t0, self._own0, self._busy0 = time.perf_counter(), own_cpu_seconds(), _busy_jiffies()
        self.load_start = os.getloadavg()[0]
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = max(time.perf_counter() - self._t0, 1e-9)
        self.own_cores = (own_cpu_seconds() - self._own0) / self.wall_s
        self.load_end = os.getloadavg()[0]
        busy = _busy_jiffies()
        self.others_cores = None
        if busy is not None and self._busy0 is not None:
            all_cores = (busy - self._busy0) / os.sysconf("SC_CLK_TCK") / self.wall_s
            self.others_cores = max(0.0, all_cores - self.own_cores)

    def as_dict(self) -> dict[str, Any]:
        return {
            "wall_s": round(self.wall_s, 1),
            "own_cores": round(self.own_cores, 2),
            "others_cores": None if self.others_cores is None else round(self.others_cores, 2),
            "load_start": round(self.load_start, 2),
            "load_end": round(self.load_end, 2),
        }


def wait_for_idle(max_wait_s: float, threshold_cores: float = 0.25, quiet_windows: int = 3) -> dict[str, Any]:
    """Wait (up to ``max_wait_s``) until other processes use under ``threshold_cores`` for
    ``quiet_windows`` consecutive 5 s windows. Returns how long it waited and whether it got there."""
    t0 = time.perf_counter()
    quiet = 0
    last = None
    while time.perf_counter() - t0 < max_wait_s:
        with CpuMonitor() as mon:
            time.sleep(5)
        last = mon.others_cores
        quiet = quiet + 1 if last is not None and last < threshold_cores else 0
        if quiet >= quiet_windows:
            break
        if int(time.perf_counter() - t0) % 30 < 5:
            log(f"waiting for the machine to go quiet: other processes use {last:.2f} cores")
    waited = time.perf_counter() - t0
    return {"waited_s": round(waited, 1), "idle": quiet >= quiet_windows, "last_others_cores": last}


class Quiet:
    """How a benchmark copes with other processes using the CPU: wait up to ``wait_s`` for
    the machine to go quiet before each timed batch, and run a batch again (at most ``retries``
    times in all) when other processes used more than ``busy_limit`` cores during it."""

    def __init__(self, wait_s: float = 0.0, busy_limit: float = 0.3, retries: int = 0) -> None:
        self.wait_s = wait_s
        self.busy_limit = busy_limit
        self.retries = retries
        self.discarded: list[dict[str, Any]] = []

    def before(self) -> None:
        if self.wait_s > 0:
            wait_for_idle(self.wait_s)

    def accept(self, what: str, others: Iterable[float | None], record: dict[str, Any]) -> bool:
        """Whether a batch's timings are kept; when not, it is noted and should be run again."""
        busiest = max((o for o in others if o is not None), default=0.0)
        if busiest <= self.busy_limit or self.retries <= 0:
            return True
        self.retries -= 1
        self.discarded.append({"what": what, "others_cores": round(busiest, 2), **record})
        log(f"{what}: other processes used {busiest:.2f} cores (limit {self.busy_limit}); "
            f"discarded, running it again ({self.retries} retries left)")  # fmt: skip
        return False
