"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions``, so any
OpenAI client or chat UI (Open WebUI, LibreChat...) talks to mediarag with ``base_url`` pointed
at the server and model ``mediarag``.

The messages are the conversation: earlier user and assistant turns are its memory, and the
last user message is the question (a follow-up is rewritten to stand alone, as in
`mediarag.Conversation`). The reply's content is the answer (an LLM's carries ``[n]`` markers)
followed by a Sources list with each cited file, its times and a link that plays them. The
structured citations travel in an extra field, ``citations`` (objects shaped as in
``/v1/ask``), on the response and on the last chunk of a stream.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ...errors import ConfigError
from ...retrieve.query import check_query
from ...schema import Answer, Message
from ..errors import NotFound, error_body, status_of
from ..service import SOURCES_HEADING
from ..shapes import cited, sources_list
from .common import base_url, config_of, service_of, sse

router = APIRouter(tags=["openai"])


class ChatMessage(BaseModel):
    """One message: ``content`` is text, or a list of parts of which the text ones are read."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if not self.content:
            return ""
        return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")


class ChatRequest(BaseModel):
    """An OpenAI chat completion request. Sampling options (temperature, max_tokens...) are
    accepted and ignored; ``k`` (passages to retrieve) may be sent as an extra field."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    k: int | None = Field(None, ge=1, le=100)


def model_names(request: Request) -> dict[str, str]:
    """The model names offered, each with the generator it answers with."""
    config = config_of(request)
    kinds = config.allowed_generators
    return {config.model_name: kinds[0], **{f"{config.model_name}-{kind}": kind for kind in kinds[1:]}}


@router.get("/v1/models", summary="The models (OpenAI-compatible)")
def models(request: Request) -> dict[str, Any]:
    created = int(time.time())
    data = [{"id": name, "object": "model", "created": created, "owned_by": "mediarag"} for name in model_names(request)]
    return {"object": "list", "data": data}


@router.post("/v1/chat/completions", summary="Answer the last message of a conversation (OpenAI-compatible)")
def chat_completions(body: ChatRequest, request: Request) -> Any:
    names = model_names(request)
    if body.model not in names:
        raise NotFound(f"model {body.model!r} does not exist; this server offers {', '.join(names)}")
    kind = names[body.model]
    last = body.messages[-1]
    if last.role != "user" or not last.text.strip():
        raise ConfigError("the last message must be the user's question")
    turns = [Message(role=m.role, content=m.text) for m in body.messages[:-1] if m.role in ("user", "assistant") and m.text.strip()]  # type: ignore[arg-type]
    service = service_of(request)
    config, base = config_of(request), base_url(request)
    chat = service.conversation(turns, kind)
    reply_id, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())

    def sources_of(answer: Answer) -> tuple[list[dict[str, Any]], str]:
        citations = [cited(config, base, c) for c in answer.citations]
        block = sources_list(answer, [c["media_url"] for c in citations]) if citations else ""
        return citations, (SOURCES_HEADING + block if block else "")

    if not body.stream:
        with service.answering(kind):
            answer = chat.ask(last.text, body.k)
        citations, block = sources_of(answer)
        return {
            "id": reply_id,
            "object": "chat.completion",
            "created": created,
            "model": body.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.text + block, "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": citations,
            "grounded": answer.grounded,
            "standalone_question": answer.standalone_question,
        }  # fmt: skip

    check_query(last.text)  # what can be refused is refused before the stream begins

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        frame = {"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": body.model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}  # fmt: skip
        return sse(frame)

    def frames() -> Iterator[str]:
        reply = None
        try:
            yield chunk({"role": "assistant", "content": ""})
            with service.answering(kind):  # held and released inside the stream
                reply = chat.ask_stream(last.text, body.k, stream=True)
                for piece in reply:
                    yield chunk({"content": piece})
                answer = reply.answer
            citations, block = sources_of(answer)
            if block:
                yield chunk({"content": block})
            yield chunk({}, "stop", citations=citations, grounded=answer.grounded,
                        standalone_question=answer.standalone_question)  # fmt: skip
            if (body.stream_options or {}).get("include_usage"):
                usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
                yield sse({"id": reply_id, "object": "chat.completion.chunk", "created": created, "model": body.model,
                           "choices": [], "usage": usage})  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the stream has begun: the error is a frame
            status, error_type = status_of(exc)
            yield sse(error_body("internal error" if status == 500 else str(exc), error_type))
        finally:
            if reply is not None:
                reply.close()
        yield sse("[DONE]")

    return StreamingResponse(frames(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
