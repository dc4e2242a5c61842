"""The OpenAI-compatible generator against a real HTTP server on 127.0.0.1.

The server speaks ``/v1/chat/completions`` (JSON, and server-sent events when ``stream`` is true)
and answers with the real packaged Qwen 0.5B model through llama-cpp-python, so the client is
tested over real HTTP with real model output.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("llama_cpp", reason="the llm extra is not installed: pip install 'mediarag[llm]'")

from llm_support import TIMEOUT, media_index, qwen  # noqa: E402
from mediarag import ConfigError, GeneratorError, MediaQA, Settings  # noqa: E402
from mediarag.generate.openai import OpenAICompatibleGenerator  # noqa: E402

API_KEY = "sk-test-0123"


class ChatHandler(BaseHTTPRequestHandler):
    """/v1/chat/completions backed by the real model; /stall/v1/... never answers in time."""

    requests: list[dict] = []
    lock = threading.Lock()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path.startswith("/stall/"):
            time.sleep(3)
            return self._json(200, {"choices": []})
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": f"no route {self.path}"}})
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._json(401, {"error": {"message": "Incorrect API key provided"}})
        options = dict(
            messages=body["messages"], max_tokens=body.get("max_tokens", 64),
            temperature=body.get("temperature", 0.0), stop=body.get("stop") or None, seed=0,
        )  # fmt: skip
        with type(self).lock:  # one llama.cpp context: one request at a time
            if not body.get("stream"):
                reply = qwen().llm.create_chat_completion(**options)
                return self._json(200, reply)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in qwen().llm.create_chat_completion(stream=True, **options):
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

    def _json(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


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
    generator = OpenAICompatibleGenerator.from_settings(settings)
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
    hits = qa._retrieve(QUESTION, 1, None)
    assert hits
    started = time.monotonic()
    with pytest.raises(GeneratorError, match="no reply within 0.5 s"):
        stalled.generate(QUESTION, hits)
    assert time.monotonic() - started < 2.5
    closed = OpenAICompatibleGenerator("m", base_url="http://127.0.0.1:9/v1", timeout=2)
    with pytest.raises(GeneratorError, match="cannot reach http://127.0.0.1:9/v1"):
        over(index, tiny_en, embedder, closed).ask(QUESTION)
