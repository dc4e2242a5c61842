"""The FastAPI application: `create_app` wires the routes, the token check, the error
responses, the request-size limits and (when configured) CORS around one `Service`."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import MediaRagError, MissingDependencyError
from .auth import require_token
from .config import ServerConfig
from .errors import TooLarge, error_body, status_of

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

    from .service import Service

log = logging.getLogger("mediarag.server")

#: Paths whose bodies are uploads (limited per file, not by ``max_request_kb``).
UPLOAD_PATHS = frozenset({"/v1/ingest"})
#: Paths answered without the token.
OPEN_PATHS = frozenset({"/health"})


def create_app(config: ServerConfig, service: Service | None = None) -> FastAPI:
    """The server's ASGI application for ``config`` (`ServerConfig.check` must pass).

    The models load and the ingest worker starts when the application starts (its lifespan),
    and the worker stops when it stops.
    """
    try:
        from fastapi import Depends, FastAPI
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import JSONResponse
        from starlette.exceptions import HTTPException
    except ImportError as exc:
        raise MissingDependencyError("fastapi", "server", "the HTTP server") from exc

    from . import routes
    from .service import Service

    config.check()
    service = service or Service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="mediarag",
        version=__version__,
        summary="Answers about video and audio files, each citing the file and the seconds where it is said.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    app.state.config = config

    def error(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(error_body(message, kind), status_code=status, headers=headers)

    @app.exception_handler(MediaRagError)
    async def our_error(request: Request, exc: MediaRagError) -> JSONResponse:
        status, kind = status_of(exc)
        return error(status, str(exc), kind)

    @app.exception_handler(Exception)
    async def any_error(request: Request, exc: Exception) -> JSONResponse:
        status, kind = status_of(exc)
        if status == 500:
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
            return error(500, "internal error; the server's log has the details", kind)
        return error(status, str(exc), kind)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        kind = "authentication_error" if exc.status_code == 401 else "invalid_request_error"
        return error(exc.status_code, str(exc.detail), kind, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(422, validation_message(exc.errors()), "invalid_request_error")

    token = require_token(config)
    guarded = [Depends(token)]
    app.include_router(routes.health.router)
    app.include_router(routes.docs.router, dependencies=guarded)
    app.include_router(routes.answers.router, dependencies=guarded)
    app.include_router(routes.library.router, dependencies=guarded)
    app.include_router(routes.media.router)  # checks the token or a signed link itself
    app.include_router(routes.ingest.router, dependencies=guarded)
    app.include_router(routes.openai.router, dependencies=guarded)

    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Range"],
            expose_headers=["Content-Range", "Accept-Ranges", "Content-Length"],
        )
    app.add_middleware(
        BodyLimit,
        json_limit=config.max_request_kb << 10,
        upload_limit=config.max_upload_bytes * config.max_files_per_upload + (1 << 20),
    )
    return app


def validation_message(errors: Any) -> str:
    """One line per invalid field: where and what is wrong (the value itself is not echoed)."""
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


class BodyLimit:
    """ASGI middleware that refuses request bodies over their limit with 413, from the
    Content-Length header when there is one and by counting otherwise."""

    def __init__(self, app: Any, *, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope.get("path") in UPLOAD_PATHS else self.json_limit
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _refuse(send, f"the request body is larger than the limit of {_size(limit)}")
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(f"the request body is larger than the limit of {_size(limit)}")
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Any, message: str) -> None:
    body = json.dumps(error_body(message, "request_too_large")).encode("utf-8")
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n >> 10} kB"
