"""The indexed files: ``GET /v1/sources``, ``DELETE /v1/sources/{id}`` and
``GET /v1/transcripts/{id}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ...app.uploads import display_name
from ..shapes import source_entry
from .common import base_url, config_of, service_of

router = APIRouter(tags=["library"])

#: The media type of each transcript format.
TRANSCRIPT_TYPES = {
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "rttm": "text/plain; charset=utf-8",
}

SourceId = Path(pattern=r"^[0-9a-f]{16}$", description="A source's id (GET /v1/sources lists them).")


@router.get("/v1/sources", summary="The indexed files")
def sources(request: Request) -> dict[str, list[dict[str, Any]]]:
    """``{"sources": [...]}`` as `mediarag sources --json` prints them, each with ``id``,
    ``name`` and ``media_url``."""
    service = service_of(request)
    config, base = config_of(request), base_url(request)
    entries = [source_entry(config, base, sid, info) for sid, info in service.sources().items()]
    return {"sources": sorted(entries, key=lambda e: (e["name"].lower(), e["source"]))}


@router.delete("/v1/sources/{sid}", summary="Remove a file from the index")
def remove(request: Request, sid: str = SourceId) -> dict[str, Any]:
    """Removes the file's passages and transcript (and the file itself when it was uploaded to
    this server)."""
    source, passages = service_of(request).remove(sid)
    return {"removed": source, "name": display_name(source), "passages": passages}


@router.get("/v1/transcripts/{sid}", summary="A file's transcript", response_class=Response)
def transcript(request: Request, sid: str = SourceId, format: str = Query("vtt", pattern="^(srt|vtt|json|txt|rttm)$")) -> Response:  # noqa: A002
    """The stored transcript as SubRip, WebVTT (for a ``<track>`` element), JSON, text or RTTM
    (the speakers' turns)."""
    text = service_of(request).transcript(sid, format)
    return Response(text, media_type=TRANSCRIPT_TYPES[format])
