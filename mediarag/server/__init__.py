"""mediarag as a service (the ``server`` extra): ``mediarag serve --index DIR``.

An HTTP API over one index (ask, search, sources, transcripts, media with Range, ingest jobs)
and an OpenAI-compatible chat API, so chat UIs and OpenAI clients use it as a model. See
docs/server.md. `create_app` builds the ASGI application from a `ServerConfig`; `serve` runs
it with uvicorn in this process.
"""

from __future__ import annotations

from .config import ServerConfig, read_token

__all__ = ["ServerConfig", "create_app", "read_token", "serve"]


def create_app(config: ServerConfig):  # type: ignore[no-untyped-def]
    """The FastAPI application serving ``config`` (see `mediarag.server.app.create_app`)."""
    from .app import create_app as build

    return build(config)


def serve(config: ServerConfig) -> int:
    """Serve until SIGINT or SIGTERM (see `mediarag.server.run.serve`)."""
    from .run import serve as run

    return run(config)
