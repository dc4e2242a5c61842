"""``POST /v1/ask`` (an answer with citations, streamed as server-sent events on request) and
``GET /v1/search`` (the passages closest to a query)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...retrieve.citations import cite
from ...retrieve.filters import PassageFilter
from ...retrieve.query import check_query
from ..errors import error_body, status_of
from ..shapes import answered, cited
from .common import base_url, config_of, service_of, sse

router = APIRouter(tags=["answers"])


class AskRequest(BaseModel):
    """A question, and how to answer it."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question (at most 2,000 characters).")
    k: int | None = Field(None, ge=1, le=100, description="Passages to retrieve (default: the server's).")
    speaker: str | None = Field(None, description="Only passages of this speaker.")
    kind: str | None = Field(None, description="Only passages of this kind: 'speech' or 'screen'.")
    generator: str | None = Field(None, description="A generator the server offers (GET /v1/models lists them).")


@router.post(
    "/v1/ask",
    summary="Answer a question, citing file and seconds",
    description="The Answer JSON of `mediarag ask --json`, each citation with `media_id` and `media_url`. "
    "With `?stream=true`: server-sent events `token` ({\"text\"}) as the answer is written, then `answer` "
    "(the whole Answer JSON, citations included), then `done`; a failure midway is an `error` event.",
)
def ask(body: AskRequest, request: Request, stream: bool = Query(False, description="Stream as server-sent events.")) -> Any:
    service = service_of(request)
    config, base = config_of(request), base_url(request)
    where = PassageFilter(speaker=body.speaker, kind=body.kind)
    if not stream:
        with service.answering(body.generator):
            answer = service.ask_stream(body.question, body.k, where, body.generator, stream=False).answer
        return JSONResponse(answered(config, base, answer))
    check_query(body.question)  # what can be refused is refused before the stream begins
    service.generator(body.generator)

    def events() -> Iterator[str]:
        try:
            with service.answering(body.generator):  # held and released inside the stream
                reply = service.ask_stream(body.question, body.k, where, body.generator, stream=True)
                try:
                    for piece in reply:
                        yield sse({"text": piece}, "token")
                    yield sse(answered(config, base, reply.answer), "answer")
                finally:
                    reply.close()
        except Exception as exc:  # noqa: BLE001 - the stream has begun: the error is an event
            status, kind = status_of(exc)
            yield sse(error_body("internal error" if status == 500 else str(exc), kind), "error")
            return
        yield sse({}, "done")

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get("/v1/search", summary="The passages most similar to a query")
def search(
    request: Request,
    q: str = Query(description="The search query."),
    k: int | None = Query(None, ge=1, le=100),
    speaker: str | None = Query(None),
    kind: str | None = Query(None),
) -> dict[str, list[dict[str, Any]]]:
    """``{"hits": [...]}`` as `mediarag search --json` prints it, each with its media link."""
    service = service_of(request)
    hits = service.search(q, k, PassageFilter(speaker=speaker, kind=kind))
    config, base = config_of(request), base_url(request)
    return {"hits": [cited(config, base, cite(h)) for h in hits]}

