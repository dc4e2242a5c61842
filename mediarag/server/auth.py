"""Who may call: the bearer token (compared in constant time), and signed media links."""

from __future__ import annotations

import hashlib
import hmac

from .config import ServerConfig


def token_matches(config: ServerConfig, given: str | None) -> bool:
    """Whether ``given`` is the server's token (constant-time); True when there is none."""
    if config.token is None:
        return True
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), config.token.get_secret_value().encode("utf-8"))


def media_signature(config: ServerConfig, sid: str) -> str | None:
    """The signature that lets a media link play without the token (None: no token is set).

    An ``<audio>`` or ``<video>`` element cannot send a header, so a cited media URL carries
    ``?sig=`` for its one file: an HMAC of the id under the token. It opens that file only;
    a new token voids every signature.
    """
    if config.token is None:
        return None
    key = config.token.get_secret_value().encode("utf-8")
    return hmac.new(key, f"media:{sid}".encode(), hashlib.sha256).hexdigest()[:32]


def require_token(config: ServerConfig):  # type: ignore[no-untyped-def]
    """The dependency that refuses a request without the bearer token (401)."""
    from fastapi import Depends
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from starlette.exceptions import HTTPException

    bearer = HTTPBearer(auto_error=False, description="The token of --token-file.")

    def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
        given = credentials.credentials if credentials is not None else None
        if not token_matches(config, given):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    return check
