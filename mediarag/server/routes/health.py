"""``GET /health``: whether the server answers (the one route without the token)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health", summary="Whether the server is up (no token needed)")
async def health() -> dict[str, str]:  # no worker thread: it answers while all are busy
    return {"status": "ok"}
