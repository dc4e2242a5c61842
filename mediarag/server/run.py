"""Running the server: uvicorn in this process (no child processes), stopped cleanly by SIGINT
or SIGTERM (uvicorn finishes the requests in flight, then the ingest worker stops)."""

from __future__ import annotations

import logging
import socket

from ..errors import ConfigError, MissingDependencyError
from .config import ServerConfig

#: How long an idle keep-alive connection stays open. uvicorn's 5 s default closes connections
#: that a busy client is about to reuse, and that request then fails (seen under load).
KEEP_ALIVE_SECONDS = 60


def serve(config: ServerConfig) -> int:
    """Check the configuration and the port, print the URL, and serve until stopped.

    Raises `mediarag.ConfigError` (a non-loopback address without a token, a port in use)
    before anything is loaded, and `mediarag.MissingDependencyError` without the server extra.
    """
    config.check()
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        raise MissingDependencyError("fastapi and uvicorn", "server", "the HTTP server") from exc
    check_port(config.host, config.port)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="mediarag serve: %(levelname)s %(message)s")
    logging.getLogger("mediarag.server").setLevel(logging.INFO)
    app = create_app(config)
    host = f"[{config.host}]" if ":" in config.host else config.host
    guarded = "a bearer token is required" if config.token else "no token: loopback only"
    print(f"mediarag serve: {config.settings.location} at http://{host}:{config.port}/v1 ({guarded}); "
          f"docs at http://{host}:{config.port}/docs", flush=True)  # fmt: skip
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            timeout_graceful_shutdown=max(5, int(config.shutdown_seconds) + 5),
        )
    )
    server.run()
    return 0 if server.started else 1


def check_port(host: str, port: int) -> None:
    """`ConfigError` when ``host:port`` cannot be listened on (in use, not an address here)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror}; choose another --port") from exc
