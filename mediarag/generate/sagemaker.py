"""Answers from an LLM on a SageMaker endpoint (default contract: Text Generation Inference).

`SageMakerGenerator` is a `mediarag.generate.chat.ChatGenerator`: it builds the same grounded
prompt as the other LLM generators (`mediarag.generate.prompt`) and reads the model's ``[n]``
labels back the same way. What is particular to an endpoint is here: the chat messages become
the one text prompt a TGI container takes (`render_chat`), the request and answer bodies follow
the container's contract (a `GenerationHandler`), and the answer is cut at the first stop
sequence, which TGI leaves in.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ..aws.clients import AwsConfig
from ..aws.runtime import GENERATOR_ENDPOINT_ENV, MAX_PAYLOAD_BYTES, SageMakerEndpoint
from ..errors import ServiceError
from ..schema import Hit, Message
from .config import GenerationConfig
from .chat import ChatGenerator
from .prompt import ChatMessage, Prompt

#: The stop sequence of a rendered chat: the model starting the user's next turn.
TURN_STOP = "\nUser:"


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


def render_chat(messages: Sequence[ChatMessage]) -> str:
    """Chat messages as the one text prompt a plain text generation container takes.

    The system message comes first, then each turn as ``User: ...`` or ``Assistant: ...``,
    blocks apart by a blank line; the prompt ends with ``Assistant:`` for the model to go on.
    """
    blocks = []
    for message in messages:
        role, content = message["role"], message["content"].strip()
        if role == "system":
            blocks.append(content)
        else:
            blocks.append(f"{'User' if role == 'user' else 'Assistant'}: {content}")
    blocks.append("Assistant:")
    return "\n\n".join(blocks)


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the first stop sequence in it (TGI keeps the one it stopped on)."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i != -1), default=len(text))
    return text[:cut]


def until_stop(pieces: Iterable[str], stop: Sequence[str]) -> Iterator[str]:
    """The streamed ``pieces`` up to the first stop sequence. Text that may be the start of a
    stop sequence is held back until the next piece tells."""
    held = ""
    for piece in pieces:
        held += piece
        text = cut_at_stop(held, stop)
        if len(text) < len(held):
            if text:
                yield text
            return
        keep = _stop_prefix(held, stop)
        if len(held) > keep:
            yield held[: len(held) - keep]
            held = held[len(held) - keep :]
    if held:
        yield held


def _stop_prefix(text: str, stop: Sequence[str]) -> int:
    """Length of the longest end of ``text`` that begins a stop sequence."""
    return max(
        (n for s in stop for n in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:n])),
        default=0,
    )


class SageMakerGenerator(ChatGenerator):
    """A `ChatGenerator` over an LLM SageMaker endpoint (Falcon on TGI by default).

    The prompt, its token budget, the stop sequences and the reading of ``[n]`` labels are those
    of every chat-model generator (`mediarag.generate.prompt`); the chat messages reach the
    container as one text prompt (`render_chat`). Token counts are estimated (one token per 3.5
    characters), so leave some slack in ``context_window``.

    Args:
        endpoint: the endpoint's name; ``None`` reads the ``falcon_ep_name`` environment variable.
        handler: the container contract (default `TgiHandler`).
        max_new_tokens: the longest answer, in tokens.
        temperature: ``None`` or 0 decodes greedily; above 0 samples.
        stream: `generate` reads the answer through ``invoke_endpoint_with_response_stream``
            (`stream` always does).
        history_turns: earlier messages of the conversation the prompt may hold (newest first,
            within the token budget).
        context_window: tokens of prompt and answer together (2048 for Falcon-40B).
        stop: extra stop sequences, after `mediarag.generate.prompt.DEFAULT_STOP` and
            ``"\\nUser:"``; the container is sent the first `max_stop_sequences`, and the answer
            is cut at any of them.
        timeout: seconds one answer may take; also caps the client's read timeout.
        config: region, credentials and retries.
        max_payload_bytes: the largest request body sent.
        client: a ready ``sagemaker-runtime`` client, instead of one made from ``config``.
        moment_sentences: sentences of the passages the model reads (see `ChatGenerator`).
    """

    #: How many stop sequences the container accepts (TGI's ``MAX_STOP_SEQUENCES`` default).
    max_stop_sequences: int = 4

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        handler: GenerationHandler | None = None,
        max_new_tokens: int = 256,
        temperature: float | None = None,
        stream: bool = False,
        history_turns: int = 4,
        context_window: int = 2048,
        stop: Sequence[str] = (),
        timeout: float = 120.0,
        config: AwsConfig | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        client: Any = None,
        moment_sentences: int | None = 3,
    ) -> None:
        super().__init__(
            context_window=context_window,
            max_tokens=max_new_tokens,
            temperature=temperature or 0.0,
            stop=(TURN_STOP, *stop),
            timeout=timeout,
            moment_sentences=moment_sentences,
        )
        config = config or AwsConfig()
        self.endpoint = SageMakerEndpoint.named(
            endpoint,
            GENERATOR_ENDPOINT_ENV,
            config=replace(config, read_timeout=min(config.read_timeout, self.timeout)),
            max_payload_bytes=max_payload_bytes,
            client=client,
        )
        self.handler: GenerationHandler = handler or TgiHandler()
        self.streaming = stream
        self.history_turns = history_turns

    @classmethod
    def from_config(cls, config: GenerationConfig, aws: AwsConfig | None = None) -> SageMakerGenerator:
        """The generator a `GenerationConfig` (``backend="sagemaker"``) describes: its endpoint,
        answer length, temperature, stop sequences and timeout. The context window stays at this
        class's 2048 tokens (Falcon-40B's), below the settings' default meant for local models."""
        return cls(
            config.endpoint,
            max_new_tokens=config.max_tokens,
            temperature=config.temperature,
            stop=config.stop,
            timeout=config.timeout,
            moment_sentences=config.moment_sentences,
            config=aws,
        )

    def __repr__(self) -> str:
        return f"SageMakerGenerator(endpoint={self.endpoint.name!r})"

    def warm_up(self) -> None:
        """Nothing to load; the endpoint is already running."""

    def parameters(
        self, max_tokens: int | None = None, stop: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """The generation parameters sent with a request (by default, those of an answer)."""
        stop = self.stop if stop is None else stop
        params: dict[str, Any] = {
            "max_new_tokens": self.max_tokens if max_tokens is None else max_tokens,
            "return_full_text": False,
            "stop": list(stop)[: self.max_stop_sequences],
        }
        if self.temperature > 0:
            params.update(do_sample=True, temperature=self.temperature)
        else:
            params["do_sample"] = False
        return params

    def _prompt(self, question: str, shown: Sequence[Hit], history: Sequence[Message]) -> Prompt:
        """The chat messages for a question, with at most ``history_turns`` earlier messages
        (the hook `ChatGenerator.prompt` and every answer go through)."""
        turns = [m for m in history if m.role != "system"]
        recent = turns[-self.history_turns :] if self.history_turns > 0 else []
        return super()._prompt(question, shown, recent)

    def chat(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> str:
        """The endpoint's whole reply (streamed and joined when the generator streams)."""
        if self.streaming:
            pieces = self.chat_stream(messages, max_tokens=max_tokens, stop=stop, timeout=timeout)
            return "".join(pieces)
        body = self._body(messages, max_tokens, stop, stream=False)
        answer = self.endpoint.invoke(body, self.handler.content_type, self.handler.accept)
        try:
            text = self.handler.deserialize(answer)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise self._invalid(f"unexpected generation response: {exc}") from exc
        return cut_at_stop(text, stop)

    def chat_stream(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> Iterator[str]:
        """The endpoint's reply through ``invoke_endpoint_with_response_stream``, piece by piece."""
        body = self._body(messages, max_tokens, stop, stream=True)
        parts = self.endpoint.invoke_stream(body, self.handler.content_type, self.handler.accept)
        pieces = self._parse(parts)
        try:
            yield from until_stop(pieces, stop)
        finally:
            pieces.close()

    def _body(
        self, messages: list[ChatMessage], max_tokens: int, stop: Sequence[str], *, stream: bool
    ) -> bytes:
        parameters = self.parameters(max_tokens, stop)
        return self.handler.serialize(render_chat(messages), parameters, stream)

    def _parse(self, parts: Iterator[bytes]) -> Generator[str, None, None]:
        try:
            yield from self.handler.parse_stream(parts)
        except (ValueError, KeyError, TypeError) as exc:
            raise self._invalid(f"unexpected stream event: {exc}") from exc

    def _invalid(self, detail: str) -> ServiceError:
        return ServiceError(self.endpoint.resource, "invalid", detail)
