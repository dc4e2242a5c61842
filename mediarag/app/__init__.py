"""The chat app (the ``app`` extra): ``mediarag app --index DIR`` serves it in the browser.

`serve` starts Streamlit on the page in ``page.py``; `AppConfig` says what it serves. The logic
that does not draw (generator choice, shared models, upload storage) lives in ``engine.py`` and
``uploads.py`` and is imported without Streamlit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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
    """Serve the app until interrupted; returns Streamlit's exit status.

    Prints the URL first. Raises `mediarag.MissingDependencyError` without the ``app`` extra and
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
    process = subprocess.Popen(streamlit_command(config, host=host, port=port), env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)
        return 130


def _check_port(host: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}; choose another --port") from exc
