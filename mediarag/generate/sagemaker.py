"""Answers from an LLM on a SageMaker endpoint (default contract: Text Generation Inference).

The prompt is plain and grounded: the retrieved passages, numbered ``[1]``, ``[2]``...; the
question; and the instruction to answer only from them, cite them by number and say "I don't
know" otherwise. The numbers the model cites are read back as the passages the answer rests on,
and renumbered in the text in the order they are first cited, which is the order of the
answer's citations. An answer that cites nothing is not grounded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from ..aws.clients import AwsConfig
from ..aws.runtime import GENERATOR_ENDPOINT_ENV, MAX_PAYLOAD_BYTES, SageMakerEndpoint, endpoint_name
from ..errors import ServiceError
from ..schema import Hit, Message
from .base import Generation

INSTRUCTION = (
    "Answer the question using only the numbered passages below, which are transcribed from "
    "audio and video. After each sentence, give the numbers of the passages it comes from in "
    "square brackets, like [1] or [2][3]. If the passages do not answer the question, reply "
    "only: I don't know."
)
#: A citation label: "[2]", "[1, 3]" or "[1][3]" (each bracket read on its own).
_LABEL = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


class GenerationHandler(Protocol):
    """Speaks one text generation container's contract."""

    content_type: str
    accept: str

    def serialize(self, prompt: str, parameters: dict[str, Any], stream: bool) -> bytes: ...

    def deserialize(self, body: bytes) -> str: ...

    def parse_stream(self, parts: Iterable[bytes]) -> Iterator[str]:
        """Text pieces from the payload parts of a streamed answer."""
        ...


class TgiHandler:
    """Hugging Face Text Generation Inference (Falcon and most LLM containers).

    Request ``{"inputs": prompt, "parameters": {...}, "stream": bool}``; answer
    ``[{"generated_text": ...}]``; a streamed answer is server-sent events, one
    ``data:{"token": {"text": ...}}`` line per token.
    """

    content_type = "application/json"
    accept = "application/json"

    def serialize(self, prompt: str, parameters: dict[str, Any], stream: bool) -> bytes:
        body: dict[str, Any] = {"inputs": prompt, "parameters": parameters}
        if stream:
            body["stream"] = True
        return json.dumps(body).encode("utf-8")

    def deserialize(self, body: bytes) -> str:
        data = json.loads(body)
        if isinstance(data, list):
            data = data[0]
        return str(data["generated_text"])

    def parse_stream(self, parts: Iterable[bytes]) -> Iterator[str]:
        buffer = b""
        for part in parts:
            buffer += part
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                text = _event_text(line)
                if text:
                    yield text
        text = _event_text(buffer)
        if text:
            yield text


def _event_text(line: bytes) -> str:
    line = line.strip()
    if not line.startswith(b"data:"):
        return ""
    event = json.loads(line[5:])
    token = event.get("token") or {}
    return "" if token.get("special") else str(token.get("text", ""))


class SageMakerGenerator:
    """A `mediarag.generate.base.Generator` over an LLM SageMaker endpoint (Falcon on TGI).

    Args:
        endpoint: the endpoint's name; ``None`` reads the ``falcon_ep_name`` environment variable.
        handler: the container contract (default `TgiHandler`).
        max_new_tokens: the longest answer, in tokens.
        temperature: ``None`` or 0 decodes greedily.
        stream: answer through ``invoke_endpoint_with_response_stream`` (see `stream`).
        history_turns: earlier messages of the conversation put in the prompt.
        config: region, credentials and retries.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        handler: GenerationHandler | None = None,
        max_new_tokens: int = 256,
        temperature: float | None = None,
        stream: bool = False,
        history_turns: int = 4,
        config: AwsConfig | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        client: Any = None,
    ) -> None:
        self.endpoint = SageMakerEndpoint(
            endpoint_name(endpoint, GENERATOR_ENDPOINT_ENV),
            config=config,
            max_payload_bytes=max_payload_bytes,
            client=client,
        )
        self.handler: GenerationHandler = handler or TgiHandler()
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.streaming = stream
        self.history_turns = history_turns

    def warm_up(self) -> None:
        """Nothing to load; the endpoint is already running."""

    def parameters(self) -> dict[str, Any]:
        """The generation parameters sent with each request."""
        params: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "return_full_text": False,
            "stop": ["\nQuestion:"],
        }
        if self.temperature:
            params.update(do_sample=True, temperature=self.temperature)
        else:
            params["do_sample"] = False
        return params

    def prompt(self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()) -> str:
        """The grounded prompt: instruction, numbered passages, recent turns, question."""
        lines = [INSTRUCTION, "", "Passages:"]
        lines += [f"[{i}] {' '.join(hit.chunk.text.split())}" for i, hit in enumerate(passages, start=1)]
        turns = [m for m in history if m.role != "system"][-self.history_turns :] if self.history_turns else []
        if turns:
            lines += ["", "Conversation so far:"]
            lines += [f"{'User' if m.role == 'user' else 'Assistant'}: {m.content}" for m in turns]
        lines += ["", f"Question: {' '.join(question.split())}", "Answer:"]
        return "\n".join(lines)

    def generate(
        self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()
    ) -> Generation:
        if not passages:
            return Generation(text="", used=[])
        if self.streaming:
            text = "".join(self.stream(question, passages, history))
        else:
            body = self.handler.serialize(self.prompt(question, passages, history), self.parameters(), False)
            answer = self.endpoint.invoke(body, self.handler.content_type, self.handler.accept)
            try:
                text = self.handler.deserialize(answer)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                raise ServiceError(self.endpoint.resource, "invalid", f"unexpected generation response: {exc}") from exc
        return cited(text, len(passages))

    def stream(self, question: str, passages: Sequence[Hit], history: Sequence[Message] = ()) -> Iterator[str]:
        """The answer's text as the endpoint writes it. Labels ``[n]`` in it point at
        ``passages[n - 1]``; `generate` renumbers them in citation order."""
        body = self.handler.serialize(self.prompt(question, passages, history), self.parameters(), True)
        parts = self.endpoint.invoke_stream(body, self.handler.content_type, self.handler.accept)
        try:
            yield from self.handler.parse_stream(parts)
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(self.endpoint.resource, "invalid", f"unexpected stream event: {exc}") from exc


def cited(text: str, count: int) -> Generation:
    """A `Generation` from model text citing passages by 1-based label: ``used`` lists the cited
    passages (0-based) in order of first citation, and labels are renumbered to match it.
    Labels outside ``1..count`` are dropped."""
    used: list[int] = []

    def renumber(match: re.Match[str]) -> str:
        labels = []
        for number in (int(n) for n in match.group(1).split(",")):
            if not 1 <= number <= count:
                continue
            if number - 1 not in used:
                used.append(number - 1)
            labels.append(f"[{used.index(number - 1) + 1}]")
        return "".join(labels)

    text = _LABEL.sub(renumber, text.strip())
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()
    return Generation(text=text, used=used)
