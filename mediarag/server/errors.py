"""The server's own errors, and the HTTP status and error type of every mediarag error.

Every error response has OpenAI's shape, ``{"error": {"message", "type", "code"}}``, so OpenAI
clients show its message; none carries a traceback.
"""

from __future__ import annotations

from ..errors import (
    ConfigError,
    GeneratorError,
    IndexStoreError,
    MediaError,
    MediaRagError,
    MissingDependencyError,
    ServiceError,
)


class NotFound(MediaRagError):
    """No such source, job, transcript or model."""


class TooLarge(MediaRagError):
    """A request body or an uploaded file is over its limit."""


class Forbidden(MediaRagError):
    """The server's configuration does not allow what was asked (a generator, URL ingest)."""


#: (status, type) per error class; the first class an error is an instance of wins.
STATUS: list[tuple[type[BaseException], int, str]] = [
    (NotFound, 404, "not_found_error"),
    (TooLarge, 413, "request_too_large"),
    (Forbidden, 403, "permission_error"),
    (ConfigError, 400, "invalid_request_error"),
    (MediaError, 400, "invalid_request_error"),
    (MissingDependencyError, 501, "not_implemented"),
    (GeneratorError, 502, "generator_error"),
    (ServiceError, 502, "service_error"),
    (IndexStoreError, 503, "index_unavailable"),
    (MediaRagError, 400, "invalid_request_error"),
]


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and error type for ``exc`` (500 and ``server_error`` for a bug)."""
    for cls, status, kind in STATUS:
        if isinstance(exc, cls):
            return status, kind
    return 500, "server_error"


def error_body(message: str, kind: str, code: str | None = None) -> dict[str, object]:
    """The JSON body of an error response."""
    return {"error": {"message": message, "type": kind, "code": code}}
