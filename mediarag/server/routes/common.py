"""What every route module uses: the service of the running app, its base URL, SSE framing."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import Request

if TYPE_CHECKING:
    from ..config import ServerConfig
    from ..service import Service


def service_of(request: Request) -> Service:
    """The `Service` of the app serving ``request``."""
    return request.app.state.service


def config_of(request: Request) -> ServerConfig:
    return request.app.state.config


def base_url(request: Request) -> str:
    """The server's address for links: ``public_url`` when configured, else as requested."""
    config = config_of(request)
    return config.public_url or str(request.base_url).rstrip("/")


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event carrying ``data`` as JSON (or as it is, for a string)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"
