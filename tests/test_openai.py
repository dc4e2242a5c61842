"""The OpenAI-compatible generator against a real HTTP server on 127.0.0.1.

The server speaks ``/v1/chat/completions`` (JSON, and server-sent events when ``stream`` is true)
and answers with the real packaged Qwen 0.5B model through llama-cpp-python, so the client is
tested over real HTTP with real model output.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("llama_cpp", reason="the llm extra is not installed: pip install 'mediarag[llm]'")

from llm_support import API_KEY, TIMEOUT, ChatHandler, chat_server, media_index, qwen  # noqa: E402
from mediarag import ConfigError, GeneratorError, MediaQA, Settings  # noqa: E402
from mediarag.generate.openai import OpenAICompatibleGenerator  # noqa: E402


@pytest.fixture(scope="module")
def server():
    with chat_server() as url:
        yield url


@pytest.fixture(scope="module")
def index(tiny_en, embedder):
    return media_index(tiny_en, embedder)


QUESTION = "What did Kennedy ask his fellow Americans to do?"


def remote(server, **options) -> OpenAICompatibleGenerator:
    options.setdefault("api_key", API_KEY)
    options.setdefault("timeout", TIMEOUT)
    return OpenAICompatibleGenerator("qwen2.5-coder-0.5b", base_url=f"{server}/v1", max_tokens=60, **options)


def over(index, tiny_en, embedder, generator) -> MediaQA:
    return MediaQA(settings=Settings(index_dir=index, k=2), transcriber=tiny_en, embedder=embedder, generator=generator)


@pytest.fixture(scope="module")
def local_answer(index, tiny_en, embedder):
    """The same question answered by the same model in-process."""
    return over(index, tiny_en, embedder, qwen()).ask(QUESTION)


def test_answers_over_http_match_the_local_model(server, index, tiny_en, embedder, local_answer):
    answer = over(index, tiny_en, embedder, remote(server)).ask(QUESTION)
    assert answer.grounded and answer.citations[0].source.endswith("jfk.flac")
    assert answer.text == local_answer.text and answer.citations == local_answer.citations
    sent = ChatHandler.requests[-1]
    assert sent["auth"] == f"Bearer {API_KEY}" and sent["body"]["stream"] is False
    assert sent["body"]["model"] == "qwen2.5-coder-0.5b" and sent["body"]["max_tokens"] == 60
    assert sent["body"]["messages"][0]["role"] == "system"
    assert '<passage id="[1]" file="jfk.flac" time="00:00-00:10">' in sent["body"]["messages"][-1]["content"]


def test_streaming_reads_server_sent_events(server, index, tiny_en, embedder, local_answer):
    reply = over(index, tiny_en, embedder, remote(server)).ask_stream(QUESTION)
    pieces = list(reply)
    assert ChatHandler.requests[-1]["body"]["stream"] is True
    assert len(pieces) > 2 and "".join(pieces).strip() == reply.answer.text
    assert reply.answer.text == local_answer.text and reply.answer.citations == local_answer.citations


def test_settings_and_environment_configure_the_endpoint(server, index, tiny_en, embedder, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"{server}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_MODEL", "from-env")
    settings = Settings(index_dir=index, generator="openai", llm_max_tokens=40, k=1, llm_timeout=TIMEOUT)
    qa = MediaQA(settings=settings, transcriber=tiny_en, embedder=embedder)
    assert isinstance(qa.generator, OpenAICompatibleGenerator)
    assert qa.ask(QUESTION).grounded
    assert ChatHandler.requests[-1]["body"]["model"] == "from-env"
    assert ChatHandler.requests[-1]["body"]["max_tokens"] == 40
    settings = Settings(generator="openai", llm_model="m", openai_base_url=f"{server}/v1", openai_api_key="k")
    generator = OpenAICompatibleGenerator.from_config(settings.generation)
    assert (generator.model, generator.base_url, generator._api_key) == ("m", f"{server}/v1", "k")
    assert "k" not in repr(settings.openai_api_key) and "k" not in repr(generator)
    monkeypatch.delenv("OPENAI_MODEL")
    with pytest.raises(ConfigError, match="needs a model name"):
        OpenAICompatibleGenerator()


def test_endpoint_errors_are_generator_errors(server, index, tiny_en, embedder):
    qa = over(index, tiny_en, embedder, remote(server, api_key="wrong"))
    with pytest.raises(GeneratorError, match="HTTP 401.*Incorrect API key"):
        qa.ask(QUESTION)
    with pytest.raises(GeneratorError, match="HTTP 401"):
        list(qa.ask_stream(QUESTION))
    stalled = OpenAICompatibleGenerator("m", base_url=f"{server}/stall/v1", api_key=API_KEY, timeout=0.5)
    qa = over(index, tiny_en, embedder, stalled)
    hits = qa.retrieve(QUESTION, 1, None)
    assert hits
    started = time.monotonic()
    with pytest.raises(GeneratorError, match="no reply within 0.5 s"):
        stalled.generate(QUESTION, hits)
    assert time.monotonic() - started < 2.5
    closed = OpenAICompatibleGenerator("m", base_url="http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(GeneratorError, match="cannot reach http://127.0.0.1:9/v1"):
        over(index, tiny_en, embedder, closed).ask(QUESTION)
