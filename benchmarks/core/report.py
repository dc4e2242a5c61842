"""What every report shares: progress lines, the command line, the header (command, date,
machine, repository, versions), Markdown tables and number formats, and writing the Markdown
and JSON files."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shlex
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "command_line",
    "fixed",
    "header",
    "log",
    "now",
    "percent",
    "run_info",
    "table",
    "write_results",
]

_START = time.perf_counter()


def elapsed() -> float:
    """Seconds since the benchmark started (since this module was first imported)."""
    return time.perf_counter() - _START


def log(message: str) -> None:
    """A progress line on standard error, stamped with the seconds since the start."""
    print(f"[{elapsed():7.1f}s] {message}", file=sys.stderr, flush=True)


def now() -> str:
    """The current UTC time, ISO 8601 to the second (reports' dates)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """How the report says it was made: ``python benchmarks/<script> <arguments>``."""
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join([f"python benchmarks/{script}", *map(shlex.quote, args)])


def run_info(command: str, packages: Iterable[str]) -> dict[str, Any]:
    """The JSON record of a run: command, date, machine, package versions, git state."""
    from .machine import git_info, machine_info, versions

    return {
        "command": command,
        "date": now(),
        "machine": machine_info(),
        "versions": versions(packages),
        "git": git_info(),
    }


def header(
    title: str,
    info: dict[str, Any],
    *,
    mode: str | None = None,
    total_s: float | None = None,
    cpu_s: float | None = None,
    load: Sequence[float] | None = None,
) -> list[str]:
    """The lines every report starts with, from a `run_info` record: title, command, mode, date
    (with the run's wall time, and CPU time when given), machine (with the load average at the
    start and the end when given), repository and versions."""
    from .machine import describe_git, describe_machine

    took = []
    if total_s is not None:
        took.append(f"total {total_s:.0f} s" + (" wall" if cpu_s is not None else ""))
    if cpu_s is not None:
        took.append(f"{cpu_s:.0f} s CPU of this process")
    machine = describe_machine(info["machine"])
    if load is not None:
        machine += (
            f"; load average {load[0]:.2f} at the start, {load[1]:.2f} at the end "
            "(other processes share the cores; timings are wall clock)"
        )
    git = info["git"]
    lines = [f"# {title}", "", f"Command: `{info['command']}`  "]
    if mode:
        lines.append(f"Mode: {mode}  ")
    lines += [
        f"Date: {info['date']}" + (f" ({', '.join(took)})" if took else "") + "  ",
        f"Machine: {machine}  ",
        f"Repository: {git if isinstance(git, str) else describe_git(git)}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()),
        "",
    ]
    return lines


def table(header_row: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header_row) + " |", "|" + "|".join("---" for _ in header_row) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def fixed(value: float | None, digits: int = 3, unit: str = "") -> str:
    """``value`` with ``digits`` decimals (and ``unit`` after it), or "n/a" for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def percent(value: float | None, digits: int = 1) -> str:
    """A share as a percentage ("12.5 %"), or "n/a"."""
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_results(out: Path, stem: str, markdown: str, data: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``<out>/<stem>.md`` and ``<out>/<stem>.json`` (each replaced whole, never half
    written); returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / f"{stem}.md", out / f"{stem}.json")
    texts = (markdown if markdown.endswith("\n") else markdown + "\n",
             json.dumps(data, indent=1, ensure_ascii=False, default=_plain) + "\n")  # fmt: skip
    for path, text in zip(paths, texts):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return paths
