"""What every benchmark report records about the run: the machine, the library versions, the
repository state, and how busy the CPU was while something was timed."""

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

ROOT = Path(__file__).resolve().parents[1]


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


def versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each distribution, or 'not installed'."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


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


def own_cpu_seconds() -> float:
    """CPU seconds used by this process and its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


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
