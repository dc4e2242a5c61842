"""``GET /v1/media/{id}``: an indexed file's bytes, with HTTP Range requests, so a browser's
``<video src=".../v1/media/ID#t=83.2,95.0">`` seeks to the cited second.

Only local files are served, found by their id in the index: no path from the client reaches
the filesystem. An ``https://`` source is redirected to; an ``s3://`` one is refused (404). With
a token, the request carries it as a bearer header or the ``sig`` of a cited link.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from ...app.engine import player_for
from ...app.uploads import display_name
from ..auth import media_signature, token_matches
from ..errors import NotFound
from .common import config_of, service_of
from .library import SourceId

router = APIRouter(tags=["media"])


@router.api_route("/v1/media/{sid}", methods=["GET", "HEAD"], summary="A file's media, seekable (Range)")
def media(request: Request, sid: str = SourceId, sig: str | None = None) -> Response:
    config = config_of(request)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    allowed = token_matches(config, given if scheme.lower() == "bearer" else None)
    if not allowed and sig:
        expected = media_signature(config, sid)
        allowed = expected is not None and _same(sig, expected)
    if not allowed:
        raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})
    source, path = service_of(request).media_file(sid)
    if source.lower().startswith(("http://", "https://")):
        return RedirectResponse(source, status_code=307)
    if path is None:
        raise NotFound(f"{display_name(source)}: the media is not on this server ({'an s3:// object' if '://' in source else 'the file is gone'})")
    player = player_for(source)
    return FileResponse(
        path,
        media_type=player.mime if player else "application/octet-stream",
        filename=display_name(source),
        content_disposition_type="inline",
    )


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
