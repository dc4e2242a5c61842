"""Any OpenAI-compatible chat endpoint: OpenAI, Ollama, vLLM, llama.cpp's server, LM Studio."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, GeneratorError
from .chat import ChatGenerator
from .prompt import EXAMPLE_MESSAGES, ChatMessage

if TYPE_CHECKING:
    from .config import GenerationConfig

#: Where requests go when neither the settings nor ``OPENAI_BASE_URL`` say otherwise.
DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAICompatibleGenerator(ChatGenerator):
    """Answers with a model behind an OpenAI-compatible ``/chat/completions`` endpoint.

    Uses only the standard library (``urllib``); streaming reads the server-sent events of
    ``"stream": true``. Token counts for the budget are estimated (one token per 3.5 characters),
    so leave some slack in ``context_window``.

    Args:
        model: The model name the server knows (``gpt-4o-mini``, ``llama3.2``, ...); default
            ``$OPENAI_MODEL``.
        base_url: The API root, up to and including ``/v1``; default ``$OPENAI_BASE_URL``, else
            OpenAI's.
        api_key: Sent as a bearer token; default ``$OPENAI_API_KEY``. Local servers often need
            none.
        context_window: The model's context size in tokens.
        **options: `ChatGenerator` options (max_tokens, temperature, stop, timeout).
    """

    #: The worked example, as for the local model: such endpoints are mostly local servers of small
    #: models (llama-server, Ollama), which reuse the constant prefix as llama.cpp does.
    examples = EXAMPLE_MESSAGES

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        context_window: int = 8192,
        **options: Any,
    ) -> None:
        super().__init__(context_window=context_window, **options)
        model = model or os.environ.get("OPENAI_MODEL")
        if not model:
            raise ConfigError(
                "the openai generator needs a model name: --llm-model NAME, Settings(llm_model=...) "
                "or $OPENAI_MODEL"
            )
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")

    @classmethod
    def from_config(cls, config: GenerationConfig) -> OpenAICompatibleGenerator:
        """The generator a `GenerationConfig` (``backend="openai"``) describes."""
        key = config.openai_api_key.get_secret_value() if config.openai_api_key else None
        return cls(
            config.model,
            base_url=config.openai_base_url,
            api_key=key,
            context_window=config.context_window,
            max_tokens=config.max_tokens,
            temperature=config.temperature,
            stop=config.stop,
            timeout=config.timeout,
            moment_sentences=config.moment_sentences,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatibleGenerator(model={self.model!r}, base_url={self.base_url!r})"

    def chat(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> str:
        try:
            with self._post(messages, max_tokens, stop, timeout, stream=False) as response:
                body = _json(response.read(), self.base_url)
        except (socket.timeout, TimeoutError) as exc:
            raise GeneratorError(f"{self.base_url}: no reply within {self.timeout:g} s") from exc
        try:
            return body["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(f"{self.base_url}: unexpected reply {str(body)[:200]}") from exc

    def chat_stream(
        self, messages: list[ChatMessage], *, max_tokens: int, stop: Sequence[str], timeout: float
    ) -> Iterator[str]:
        try:
            yield from self._events(messages, max_tokens, stop, timeout)
        except (socket.timeout, TimeoutError) as exc:
            raise GeneratorError(f"{self.base_url}: no reply within {self.timeout:g} s") from exc

    def _events(
        self, messages: list[ChatMessage], max_tokens: int, stop: Sequence[str], timeout: float
    ) -> Iterator[str]:
        deadline = time.monotonic() + timeout
        with self._post(messages, max_tokens, stop, timeout, stream=True) as response:
            for raw in response:
                if time.monotonic() > deadline:
                    raise GeneratorError(f"{self.base_url}: no complete answer within {self.timeout:g} s")
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments (":"), "event:" lines
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                event = _json(data.encode(), self.base_url)
                if "error" in event:
                    raise GeneratorError(f"{self.base_url}: {event['error']}")
                for choice in event.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece

    def _post(
        self, messages: list[ChatMessage], max_tokens: int, stop: Sequence[str], timeout: float, *, stream: bool
    ) -> Any:
        payload = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stop": list(stop)[:4],  # OpenAI accepts at most four
            "stream": stream,
        }
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - the user's endpoint
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:300]
            raise GeneratorError(f"{self.base_url}: HTTP {exc.code} {exc.reason}: {detail}") from exc
        except (socket.timeout, TimeoutError) as exc:
            raise GeneratorError(f"{self.base_url}: no reply within {self.timeout:g} s") from exc
        except urllib.error.URLError as exc:
            raise GeneratorError(f"cannot reach {self.base_url}: {exc.reason}") from exc


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise GeneratorError(f"{where}: the reply is not JSON: {data[:200]!r}") from exc
