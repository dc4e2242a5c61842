"""The chat app (the ``app`` extra): ``mediarag app --index DIR`` serves it in the browser.

`serve` starts Streamlit on the page in ``page.py``; `AppConfig` says what it serves. The logic
that does not draw (generator choice, shared models, upload storage) lives in ``engine.py`` and
``uploads.py`` and is imported without Streamlit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError, MissingDependencyError
from .config import AppConfig

__all__ = ["AppConfig", "serve", "streamlit_command"]

PAGE = Path(__file__).with_name("page.py")


def streamlit_command(config: AppConfig, *, host: str = "127.0.0.1", port: int = 8501) -> list[str]:
    """The command that serves the page: headless, no usage statistics, no error details in the
    browser (the page shows its own messages), uploads capped at ``config.max_upload_mb``."""
    return [
        sys.executable, "-m", "streamlit", "run", str(PAGE),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.maxUploadSize", str(config.max_upload_mb),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.showErrorDetails", "none",
        "--client.toolbarMode", "minimal",
    ]  # fmt: skip


def serve(config: AppConfig, *, host: str = "127.0.0.1", port: int = 8501) -> int:
    """Serve the app until interrupted or terminated; returns Streamlit's exit status, or
    128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM).

    Prints the URL first. The Streamlit server is stopped with us: a SIGTERM, SIGINT or SIGHUP
    is passed on to it, and on Linux it is stopped even when we are killed. Raises `mediarag.MissingDependencyError` without the ``app`` extra and
    `mediarag.ConfigError` when the port is taken.
    """
    try:
        import streamlit  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("streamlit", "app", "the chat app") from exc
    _check_port(host, port)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    print(f"mediarag app: serving {config.settings.index_dir} at http://{shown}:{port}", flush=True)
    env = {**os.environ, **config.to_env(), "MEDIARAG_PROGRESS": os.environ.get("MEDIARAG_PROGRESS", "0")}
    return _supervise(_start(streamlit_command(config, host=host, port=port), env))


#: How long the server has to stop after SIGTERM or Ctrl-C before it is killed.
STOP_SECONDS = 10.0


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the server in a process group of its own (POSIX), so that it is stopped as a whole
    and only through us; on Linux it is also sent SIGTERM if we die first (even by SIGKILL)."""
    if os.name != "posix":
        return subprocess.Popen(command, env=env)
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_parent_death_signal())


def _parent_death_signal() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # loaded here, not in the forked child
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def arm() -> None:  # runs in the child, between fork and exec
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def _supervise(process: subprocess.Popen[bytes]) -> int:
    """Wait for the server; SIGTERM, SIGINT and SIGHUP are passed on to its process group.

    A server that has not stopped ``STOP_SECONDS`` after the first signal, or when a second one
    comes, is killed. Nothing of its group outlives this call. Returns the server's exit status,
    or 128 + the signal's number when a signal stopped it (130 for Ctrl-C).
    """
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        _signal_group(process, signum if len(received) == 1 else signal.SIGKILL)

    wanted = [signal.SIGTERM, signal.SIGINT] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, forward) for signum in wanted}
    try:
        deadline = None
        while True:
            try:
                status = process.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                if received and deadline is None:
                    deadline = time.monotonic() + STOP_SECONDS
                if deadline is not None and time.monotonic() > deadline:
                    _signal_group(process, signal.SIGKILL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if process.poll() is None:  # an exception got us here
            _signal_group(process, signal.SIGKILL)
            process.wait()
        _signal_group(process, signal.SIGKILL)  # anything the server started and left running
    return 128 + received[0] if received else status


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        if os.name == "posix":
            os.killpg(process.pid, signum)
        elif process.poll() is None:
            process.terminate()
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone


def _check_port(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        if os.name == "posix":  # as the server binds: a stopped server's TIME_WAIT does not count
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}; choose another --port") from exc
