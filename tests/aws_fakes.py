"""Local stand-ins for AWS services, speaking the real wire protocols (imported by conftest).

- `FakeSageMakerRuntime`: an HTTP server on 127.0.0.1 that answers ``sagemaker-runtime``
  requests (``POST /endpoints/{name}/invocations`` and ``.../invocations-response-stream`` in the
  AWS event-stream framing) with REAL local models behind each container contract: Whisper
  tiny.en through faster-whisper, all-MiniLM-L6-v2, and the extractive generator reading the
  labelled passages of a TGI prompt. It checks that requests are SigV4-signed, enforces the 6 MB
  payload limit, and can be told to throttle or fail.
- `moto_server`: moto in server mode on a loopback port, for S3, Transcribe and SageMaker.
"""

from __future__ import annotations

import json
import re
import struct
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

#: A model behind an endpoint: request body and headers in; status, content type, body out.
Model = Callable[[bytes, dict[str, str]], tuple[int, str, bytes]]
#: A streaming model: request body in; the payload parts out.
StreamModel = Callable[[bytes], Iterator[bytes]]

DENIED_KEY = "AKIDDENIEDEXAMPLE"
ACCOUNT = "123456789012"


def event_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message of the AWS event-stream encoding (string headers only)."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack("!I", zlib.crc32(message) & 0xFFFFFFFF)


def payload_part(data: bytes) -> bytes:
    return event_message(
        {":event-type": "PayloadPart", ":content-type": "application/octet-stream", ":message-type": "event"},
        data,
    )


class FakeSageMakerRuntime:
    """A sagemaker-runtime compatible server; see the module docstring."""

    def __init__(self) -> None:
        self.models: dict[str, Model] = {}
        self.stream_models: dict[str, StreamModel] = {}
        self.failures: dict[str, list[int]] = {}
        self.calls: Counter[str] = Counter()
        self.bodies: dict[str, list[bytes]] = {}
        self.max_payload = 6 * 1024 * 1024
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeSageMakerRuntime:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, endpoint: str, statuses: list[int]) -> None:
        """Answer the next requests to ``endpoint`` with these error statuses, in order."""
        self.failures[endpoint] = list(statuses)

    def reset(self) -> None:
        self.failures.clear()
        self.calls.clear()
        self.bodies.clear()
        self.max_payload = 6 * 1024 * 1024

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = re.fullmatch(r"/endpoints/([^/]+)/(invocations|invocations-response-stream)", self.path)
                if match is None:
                    return self._error(404, "UnknownOperationException", "no such operation")
                name, operation = match.groups()
                auth = self.headers.get("Authorization", "")
                if not (auth.startswith("AWS4-HMAC-SHA256 Credential=") and "/sagemaker/aws4_request" in auth):
                    return self._error(403, "MissingAuthenticationTokenException", "request is not SigV4-signed")
                if f"Credential={DENIED_KEY}/" in auth:
                    return self._error(
                        403, "AccessDeniedException",
                        f"User is not authorized to perform: sagemaker:InvokeEndpoint on endpoint/{name}",
                    )  # fmt: skip
                fake.calls[name] += 1
                fake.bodies.setdefault(name, []).append(body)
                if len(body) > fake.max_payload:
                    return self._error(413, "", "Request Entity Too Large")
                if fake.failures.get(name):
                    status = fake.failures[name].pop(0)
                    code = {429: "ThrottlingException", 503: "ServiceUnavailable"}.get(status, "InternalFailure")
                    return self._error(status, code, f"{code} (injected by the test)")
                streaming = operation == "invocations-response-stream"
                known = fake.stream_models if streaming else fake.models
                if name not in known:
                    return self._error(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
                if streaming:
                    return self._stream(fake.stream_models[name](body))
                status, content_type, answer = fake.models[name](body, dict(self.headers))
                if status != 200:  # the container's own error, wrapped as SageMaker does
                    return self._error(
                        424, "ModelError", f"Received client error ({status}) from primary",
                        {"OriginalStatusCode": status, "OriginalMessage": answer.decode()},
                    )  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("x-Amzn-Invoked-Production-Variant", "AllTraffic")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _stream(self, parts: Iterator[bytes]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/vnd.amazon.eventstream")
                self.send_header("X-Amzn-SageMaker-Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in parts:
                    if isinstance(part, tuple):  # (error code, message): an exception event
                        code, message = part
                        frame = event_message(
                            {":message-type": "exception", ":exception-type": code, ":content-type": "application/json"},
                            json.dumps({"Message": message, "ErrorCode": "StreamBroken"}).encode(),
                        )
                    else:
                        frame = payload_part(part)
                    self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def _error(self, status: int, code: str, message: str, extra: dict | None = None) -> None:
                data = json.dumps({"message": message, **(extra or {})}).encode()
                self.send_response(status)
                if code:
                    self.send_header("x-amzn-ErrorType", code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


# Models behind the container contracts ------------------------------------------------------


def whisper_model(transcriber) -> Model:  # type: ignore[no-untyped-def]
    """The Hugging Face ASR contract: audio bytes in, ``{"text", "chunks"}`` out."""
    from mediarag.media import decode_audio

    def run(body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        if not headers.get("Content-Type", "").startswith("audio/"):
            return 415, "text/plain", b"expected an audio content type"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "request.wav"
            path.write_bytes(body)
            audio = decode_audio(path)
        transcript = transcriber.transcribe(audio, language="en")
        chunks = [{"timestamp": [round(s.start, 2), round(s.end, 2)], "text": " " + s.text} for s in transcript.segments]
        answer = {"text": "".join(c["text"] for c in chunks), "chunks": chunks}
        return 200, "application/json", json.dumps(answer).encode()

    return run


def embedding_model(embedder) -> Model:  # type: ignore[no-untyped-def]
    """The JumpStart GPT-J embedding contract: ``{"text_inputs"}`` in, ``{"embedding"}`` out."""

    def run(body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
        try:
            texts = json.loads(body)["text_inputs"]
        except (ValueError, KeyError):
            return 400, "text/plain", b"body must be JSON with text_inputs"
        vectors = embedder.embed_passages(texts)
        return 200, "application/json", json.dumps({"embedding": vectors.tolist()}).encode()

    return run


#: What a fake LLM writes for a prompt.
Answer = Callable[[str], str]


def extractive_answer(prompt: str) -> str:
    """Plays an instruction-following LLM: reads the labelled ``<passage>`` blocks and the
    question from the prompt, picks sentences with the extractive generator and cites them as
    ``[n]``."""
    from mediarag.generate.extractive import ExtractiveGenerator
    from mediarag.schema import Chunk, Hit

    passages = re.findall(r'^<passage id="\[(\d+)\]"[^>]*>\n(.*?)\n</passage>$', prompt, flags=re.M | re.S)
    question = re.search(r"^Question: (.*)$", prompt, flags=re.M)
    if not passages or question is None:
        return "I don't know."
    hits = [
        Hit(chunk=Chunk(id=n, source="prompt", start=0, end=0, text=text), score=0.5) for n, text in passages
    ]
    generation = ExtractiveGenerator().generate(question.group(1), hits)
    if not generation.used:
        return "I don't know."
    labels = "".join(f"[{passages[i][0]}]" for i in generation.used)
    return f"{generation.text} {labels}"


def _tgi_generate(request: dict, answer: Answer) -> str:
    """The answer as TGI returns it: it ends after the first stop sequence, which it keeps."""
    text = answer(request["inputs"])
    ends = [text.find(s) + len(s) for s in request.get("parameters", {}).get("stop", []) if s in text]
    return text[: min(ends)] if ends else text


def tgi_model(body: bytes, headers: dict[str, str], answer: Answer = extractive_answer) -> tuple[int, str, bytes]:
    """The TGI contract: ``{"inputs", "parameters"}`` in, ``[{"generated_text"}]`` out."""
    request = json.loads(body)
    if "inputs" not in request or not isinstance(request.get("parameters", {}), dict):
        return 422, "application/json", b'{"error": "missing inputs"}'
    if len(request.get("parameters", {}).get("stop", [])) > 4:  # TGI's default MAX_STOP_SEQUENCES
        return 422, "application/json", b'{"error": "stop sequences must be <= 4"}'
    return 200, "application/json", json.dumps([{"generated_text": _tgi_generate(request, answer)}]).encode()


def tgi_stream_model(body: bytes, answer: Answer = extractive_answer) -> Iterator[bytes]:
    """TGI streaming: server-sent events, one token (up to four characters) each, cut into
    payload parts at odd places."""
    request = json.loads(body)
    assert request.get("stream") is True
    text = _tgi_generate(request, answer)
    tokens = re.findall(r"\s*\S{1,4}", text)
    events = b"".join(
        b"data:" + json.dumps({"token": {"id": i, "text": t, "special": False}, "generated_text": None}).encode() + b"\n\n"
        for i, t in enumerate(tokens)
    )
    events += b"data:" + json.dumps({"token": {"id": -1, "text": "</s>", "special": True}, "generated_text": text}).encode() + b"\n\n"
    step = 37  # parts end mid-event, as network reads do
    for first in range(0, len(events), step):
        if "break the stream" in request["inputs"] and first > len(events) // 2:
            yield ("ModelStreamError", "The connection to the model was reset")  # type: ignore[misc]
            return
        yield events[first : first + step]


# Fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def aws_env(tmp_path_factory):
    """Dummy credentials and a region for every AWS test; no shared config files are read."""
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTEXAMPLE")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_CONFIG_FILE", str(empty))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_ENDPOINT_URL"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def sagemaker_runtime(aws_env, tiny_en, embedder):
    """The fake sagemaker-runtime, serving endpoints 'whisper', 'gpt-j-embedding' and 'falcon'."""
    fake = FakeSageMakerRuntime()
    fake.models["whisper"] = whisper_model(tiny_en)
    fake.models["gpt-j-embedding"] = embedding_model(embedder)
    fake.models["falcon"] = tgi_model
    fake.stream_models["falcon"] = tgi_stream_model
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def runtime(sagemaker_runtime):
    """The fake sagemaker-runtime, with failures and counters reset for one test."""
    sagemaker_runtime.reset()
    yield sagemaker_runtime
    sagemaker_runtime.reset()


@pytest.fixture(scope="session")
def moto_server(aws_env):
    """moto in server mode on a free loopback port; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
