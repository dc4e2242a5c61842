"""`mediarag serve` as its clients meet it: a real server subprocess on a free loopback port, over
a real index (tiny.en + e5), called with httpx and the official OpenAI client.

One server (with a token, a 1 MB upload limit) serves most tests of this module; the crash test
starts its own on a copy of the index, kills it with SIGKILL mid-ingest and starts it again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")

QUIET = {"HF_HUB_OFFLINE": "1", "MEDIARAG_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
ENV = {**os.environ, **QUIET}
TOKEN = "test-token-0123456789abcdef"
QUESTION = "What should you ask?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `mediarag serve` subprocess; stopped with SIGTERM (or killed) by the test."""

    def __init__(self, index: Path, data: Path, *args: str, token: str | None = None, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = data
        command = [sys.executable, "-m", "mediarag.cli", "serve", "--index", str(index), "--data-dir", str(data),
                   "--port", str(self.port), "--model", "tiny.en", *args]  # fmt: skip
        self.headers = {}
        if token:
            token_file = data.parent / f"token-{self.port}"
            token_file.write_text(token + "\n")
            command += ["--token-file", str(token_file)]
            self.headers = {"Authorization": f"Bearer {token}"}
        self.log = open(data.parent / f"server-{self.port}.log", "w+")  # noqa: SIM115
        environment = {**os.environ, **QUIET, **(env or {})}  # os.environ now: the AWS fakes' too
        self.process = subprocess.Popen(command, env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not start in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=120, **kwargs)

    def stop(self) -> int:
        """SIGTERM, and the exit status: uvicorn stops cleanly, then ends by the same signal."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


def wait_job(client: httpx.Client, job_id: str, timeout: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {job}")


@pytest.fixture(scope="module")
def index(tmp_path_factory, data_dir, tiny_en, e5):
    """A small real index: the JFK clip, transcribed with tiny.en and embedded with e5; and a
    pristine copy of it for the crash test."""
    from mediarag import MediaQA, Settings

    root = tmp_path_factory.mktemp("server")
    media = root / "media"
    media.mkdir()
    shutil.copy(data_dir / "jfk.flac", media / "jfk.flac")
    qa = MediaQA(settings=Settings(index_dir=root / "index", whisper_model="tiny.en"), transcriber=tiny_en, embedder=e5)
    report = qa.ingest([media / "jfk.flac"])
    assert report.ok and len(report.ingested) == 1
    shutil.copytree(root / "index", root / "index-copy")
    return root


@pytest.fixture(scope="module")
def server(index, moto_server):
    data = index / "data"
    data.mkdir()
    srv = Server(index / "index", data, "--max-upload-mb", "1", "--allow-url-ingest", token=TOKEN,
                 env={"AWS_ENDPOINT_URL_S3": moto_server})  # fmt: skip
    yield srv
    assert srv.stop() == -signal.SIGTERM
    output = Path(srv.log.name).read_text()
    assert "mediarag serve: INFO stopped" in output, output  # a clean stop, the worker ended
    assert "Traceback" not in output, output  # no request failed with a bug


@pytest.fixture(scope="module")
def client(server):
    with server.client() as c:
        yield c


def jfk_id(client) -> str:
    sources = client.get("/v1/sources").json()["sources"]
    return next(s["id"] for s in sources if s["name"] == "jfk.flac")


# Security ---------------------------------------------------------------------------------------


def test_every_endpoint_but_health_needs_the_token(server, client):
    sid = jfk_id(client)
    anonymous = httpx.Client(base_url=server.url, timeout=30)
    wrong = httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
    assert anonymous.get("/health").json() == {"status": "ok"}
    calls = [("GET", "/v1/sources"), ("GET", "/v1/models"), ("GET", "/openapi.json"), ("GET", "/docs"),
             ("GET", f"/v1/search?q=country"), ("GET", f"/v1/transcripts/{sid}"), ("GET", f"/v1/media/{sid}"),
             ("GET", "/v1/jobs"), ("DELETE", f"/v1/sources/{sid}"), ("POST", "/v1/ask"),
             ("POST", "/v1/chat/completions"), ("POST", "/v1/ingest")]  # fmt: skip
    for method, path in calls:
        for who in (anonymous, wrong):
            response = who.request(method, path, json={"question": QUESTION})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["error"]["message"] == "missing or wrong bearer token"
            assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/v1/sources").status_code == 200  # nothing was deleted
    assert jfk_id(client) == sid


def test_openapi_schema_and_docs_page(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/sources", "/v1/sources/{sid}", "/v1/transcripts/{sid}", "/v1/ingest",
            "/v1/jobs/{job_id}", "/v1/media/{sid}", "/v1/models", "/v1/chat/completions"} <= set(schema["paths"])  # fmt: skip
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_binding_beyond_loopback_without_a_token_is_refused(index, tmp_path):
    for args in (["--host", "0.0.0.0"], ["--host", "192.0.2.1"]):
        result = subprocess.run(
            [sys.executable, "-m", "mediarag.cli", "serve", "--index", str(index / "index"), "--port", str(free_port()), *args],
            env=ENV, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert "without a token" in result.stderr and "--token-file" in result.stderr
    short = tmp_path / "short"
    short.write_text("abc")
    result = subprocess.run(
        [sys.executable, "-m", "mediarag.cli", "serve", "--index", str(index / "index"), "--token-file", str(short)],
        env=ENV, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "too short" in result.stderr


def test_errors_are_messages_never_tracebacks(client):
    cases = [
        client.post("/v1/ask", json={"question": ""}),
        client.post("/v1/ask", json={"question": "x" * 2500}),
        client.post("/v1/ask", json={"questio": QUESTION}),
        client.post("/v1/ask", json={"question": QUESTION, "generator": "local"}),
        client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"}),
        client.get("/v1/transcripts/0123456789abcdef"),
        client.get("/v1/jobs/0123456789abcdef"),
        client.get("/v1/media/..%2F..%2Fetc%2Fpasswd"),
    ]
    expected = [400, 400, 422, 403, 422, 404, 404, 404]
    assert [r.status_code for r in cases] == expected, [r.text for r in cases]
    for response in cases:
        message = response.json()["error"]["message"]
        assert message and "Traceback" not in response.text and 'File "' not in response.text
    assert "empty" in cases[0].json()["error"]["message"]
    assert "2,000" in cases[1].json()["error"]["message"]
    assert "'local' is not offered" in cases[3].json()["error"]["message"]


def test_json_bodies_over_the_limit_are_refused(client):
    response = client.post("/v1/ask", content=b'{"question": "' + b"x" * (1100 << 10) + b'"}',
                           headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413 and "larger than the limit of 1 MB" in response.json()["error"]["message"]


# Answers ----------------------------------------------------------------------------------------


def test_ask_answers_with_the_cli_json_and_media_links(client):
    answer = client.post("/v1/ask", json={"question": QUESTION, "k": 2}).json()
    assert set(answer) == {"question", "answer", "grounded", "fallback", "citations"}
    assert answer["grounded"] is True and "country" in answer["answer"]
    citation = answer["citations"][0]
    assert set(citation) == {"source", "start", "end", "text", "score", "link", "kind", "speaker", "moment", "media_id", "media_url"}
    assert Path(citation["source"]).name == "jfk.flac" and 0 <= citation["start"] < citation["end"] <= 11.1
    url = citation["media_url"]
    assert re.fullmatch(rf"{re.escape(str(client.base_url))}/v1/media/[0-9a-f]{{16}}\?sig=[0-9a-f]{{32}}#t=[\d.]+,[\d.]+", url)
    moment = citation["moment"]  # the link plays the moment the answer rests on, inside the passage
    assert citation["start"] <= moment["start"] < moment["end"] <= citation["end"]
    assert url.endswith(f"#t={moment['start']:.1f},{moment['end']:.1f}")


def test_ask_streams_tokens_then_the_citations(client):
    with client.stream("POST", "/v1/ask", params={"stream": "true"}, json={"question": QUESTION}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = [tuple(block.split("\n", 1)) for block in response.read().decode().strip().split("\n\n")]
    names = [e[0].removeprefix("event: ") for e in events]
    assert names[0] == "token" and names[-2:] == ["answer", "done"] and set(names[:-2]) == {"token"}
    text = "".join(json.loads(e[1].removeprefix("data: "))["text"] for e in events[:-2])
    final = json.loads(events[-2][1].removeprefix("data: "))
    assert text.strip() == final["answer"] and final["citations"][0]["media_url"]


def test_search_with_filters(client):
    hits = client.get("/v1/search", params={"q": "fellow Americans", "k": 3}).json()["hits"]
    assert hits and Path(hits[0]["source"]).name == "jfk.flac" and hits[0]["media_url"]
    assert client.get("/v1/search", params={"q": "fellow Americans", "kind": "speech"}).json()["hits"]
    assert client.get("/v1/search", params={"q": "fellow Americans", "kind": "screen"}).json()["hits"] == []
    assert client.get("/v1/search", params={"q": "fellow Americans", "speaker": "SPEAKER_09"}).json()["hits"] == []
    answer = client.post("/v1/ask", json={"question": QUESTION, "kind": "screen"}).json()
    assert answer["grounded"] is False and answer["citations"] == []


def test_transcripts_in_every_format(client):
    sid = jfk_id(client)
    vtt = client.get(f"/v1/transcripts/{sid}", params={"format": "vtt"})
    assert vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    srt = client.get(f"/v1/transcripts/{sid}", params={"format": "srt"}).text
    assert srt.startswith("1\n00:00:") and "country" in srt
    assert json.loads(client.get(f"/v1/transcripts/{sid}", params={"format": "json"}).text)["language"] == "en"
    assert "country" in client.get(f"/v1/transcripts/{sid}", params={"format": "txt"}).text
    rttm = client.get(f"/v1/transcripts/{sid}", params={"format": "rttm"}).text.splitlines()
    assert rttm and all(line.split()[0] == "SPEAKER" and line.split()[7].startswith("SPEAKER_") for line in rttm)
    assert client.get(f"/v1/transcripts/{sid}", params={"format": "doc"}).status_code == 422


def test_media_range_requests_as_a_browser_makes_them(server, client, index):
    original = (index / "media" / "jfk.flac").read_bytes()
    sid = jfk_id(client)
    part = client.get(f"/v1/media/{sid}", headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206 and part.content == original[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{len(original)}"
    assert part.headers["content-type"] == "audio/flac" and part.headers["accept-ranges"] == "bytes"
    opening = client.get(f"/v1/media/{sid}", headers={"Range": "bytes=0-"})  # what <audio> asks first
    assert opening.status_code == 206 and opening.content == original
    assert client.get(f"/v1/media/{sid}", headers={"Range": f"bytes={len(original) + 10}-"}).status_code == 416
    whole = client.get(f"/v1/media/{sid}")
    assert whole.status_code == 200 and whole.content == original
    # A cited link plays without the header: its signature opens that one file.
    link = client.post("/v1/ask", json={"question": QUESTION}).json()["citations"][0]["media_url"]
    anonymous = httpx.Client(timeout=30)
    signed = anonymous.get(link.split("#", 1)[0], headers={"Range": "bytes=0-99"})
    assert signed.status_code == 206 and signed.content == original[:100]
    forged = link.split("?sig=", 1)[0] + "?sig=" + "0" * 32
    assert anonymous.get(forged).status_code == 401


# The OpenAI-compatible API ----------------------------------------------------------------------


def test_openai_client_lists_the_model_and_answers_citing_file_and_seconds(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN)
    assert [m.id for m in client.models.list()] == ["mediarag"]
    reply = client.chat.completions.create(model="mediarag", messages=[{"role": "user", "content": QUESTION}])
    content = reply.choices[0].message.content
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    assert "country" in content and "\n\nSources:\n[1] [jfk.flac 00:00-00:" in content
    assert re.search(r"\(\d+\.\d-\d+\.\d s\)\]\(http://127\.0\.0\.1:\d+/v1/media/[0-9a-f]{16}\?sig=\w+#t=", content)
    citations = reply.model_extra["citations"]
    assert Path(citations[0]["source"]).name == "jfk.flac" and citations[0]["end"] > citations[0]["start"]
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong").models.list()


def test_openai_client_streams_and_follow_ups_are_rewritten(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN)
    first = client.chat.completions.create(model="mediarag", messages=[{"role": "user", "content": QUESTION}])
    history = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": first.choices[0].message.content},
               {"role": "user", "content": [{"type": "text", "text": "And what did he say about it?"}]}]  # fmt: skip
    stream = client.chat.completions.create(model="mediarag", messages=history, stream=True,
                                            stream_options={"include_usage": True})  # fmt: skip
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "country" in text and "Sources:\n[1] [jfk.flac" in text and "#t=" in text
    last = [c for c in chunks if c.choices][-1]
    assert last.choices[0].finish_reason == "stop"
    assert Path(last.model_extra["citations"][0]["source"]).name == "jfk.flac"
    assert last.model_extra["standalone_question"].endswith(f"(follow-up to: {QUESTION})")
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


# Ingest -----------------------------------------------------------------------------------------


def test_upload_ingested_through_a_job_while_another_client_asks(server, client, data_dir, index):
    asked: list[int] = []
    done = threading.Event()

    def keep_asking() -> None:
        with server.client() as other:
            while not done.is_set():
                asked.append(other.post("/v1/ask", json={"question": QUESTION}).status_code)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        with open(data_dir / "fleurs-en-000.ogg", "rb") as handle:
            response = client.post("/v1/ingest", files={"file": ("../../../escape/my talk.ogg", handle, "audio/ogg")})
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["state"] in ("queued", "running") and job["names"] == ["my talk.ogg"]
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
        seen_running = False
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            job = client.get(f"/v1/jobs/{job['id']}").json()
            seen_running |= job["state"] == "running"
            if job["state"] in ("done", "failed"):
                break
            time.sleep(0.1)
    finally:
        done.set()
        asker.join()
    assert job["state"] == "done", job
    assert job["progress"]["fraction"] == 1.0 and seen_running
    assert len(asked) >= 2 and set(asked) == {200}
    source = job["report"]["ingested"][0]["source"]
    stored = Path(source)
    assert stored.parent == (server.data / "library").resolve()
    assert re.fullmatch(r"[0-9a-f]{12}_my_talk\.ogg", stored.name)
    assert not (index / "escape").exists() and not (server.data / "escape").exists()
    names = [s["name"] for s in client.get("/v1/sources").json()["sources"]]
    assert "my_talk.ogg" in names
    hits = client.get("/v1/search", params={"q": "slow communication channels in the west", "k": 5}).json()["hits"]
    assert any(h["source"] == source for h in hits)


def test_bad_and_oversized_uploads_are_refused_naming_the_file(server, client, data_dir, tmp_path):
    def stored() -> list[str]:
        return sorted(p.name for p in (server.data / "library").iterdir() if not p.name.startswith("."))

    before = stored()
    jobs_before = len(client.get("/v1/jobs").json()["jobs"])
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(3 << 20))
    cases = {
        "notes.txt": (400, "notes.txt: files of type .txt are not accepted"),
        "big.mp4": (413, "big.mp4: larger than the upload limit of 1 MB"),
        "empty.wav": (400, "empty.wav: the file is empty"),
        "noextension": (400, "noextension: files of type (no extension) are not accepted"),
    }
    bodies = {"notes.txt": b"hello", "big.mp4": big.read_bytes(), "empty.wav": b"", "noextension": b"data"}
    for name, (status, message) in cases.items():
        response = client.post("/v1/ingest", files={"file": (name, bodies[name])})
        assert response.status_code == status, (name, response.text)
        assert response.json()["error"]["message"].startswith(message)
    # One bad file refuses the whole upload; the good one is not kept either.
    good = (data_dir / "fleurs-en-001.ogg").read_bytes()
    response = client.post("/v1/ingest", files=[("file", ("good.ogg", good)), ("file", ("bad.exe", b"MZ"))])
    assert response.status_code == 400 and "bad.exe" in response.json()["error"]["message"]
    assert client.post("/v1/ingest", data={"note": "no file"}).status_code == 400
    assert client.post("/v1/ingest", content=b"raw", headers={"content-type": "audio/ogg"}).status_code == 400
    url = client.post("/v1/ingest", json={"url": "/etc/passwd"})
    assert url.status_code == 400 and "give an s3:// or https:// URL" in url.json()["error"]["message"]
    assert stored() == before
    assert not list((server.data / "library" / ".incoming").iterdir())
    assert len(client.get("/v1/jobs").json()["jobs"]) == jobs_before


def test_ingest_from_s3_and_a_failed_download(server, client, data_dir, moto_server):
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="talks")
    s3.upload_file(str(data_dir / "fleurs-en-001.ogg"), "talks", "german/nouns.ogg")
    job = wait_job(client, client.post("/v1/ingest", json={"url": "s3://talks/german/"}).json()["id"])
    assert job["state"] == "done", job
    assert [i["source"] for i in job["report"]["ingested"]] == ["s3://talks/german/nouns.ogg"]
    entry = next(s for s in client.get("/v1/sources").json()["sources"] if s["source"] == "s3://talks/german/nouns.ogg")
    hits = client.get("/v1/search", params={"q": "nouns begin with a capital letter", "k": 1}).json()["hits"]
    assert hits[0]["source"] == entry["source"]
    refused = client.get(f"/v1/media/{entry['id']}")
    assert refused.status_code == 404 and "s3://" in refused.json()["error"]["message"]
    assert client.delete(f"/v1/sources/{entry['id']}").status_code == 200
    # An https:// download that cannot connect (a closed loopback port) fails its job with the URL.
    url = f"https://127.0.0.1:{free_port()}/talk.mp4"
    job = wait_job(client, client.post("/v1/ingest", json={"url": url}).json()["id"])
    assert job["state"] == "failed" and job["error"].startswith(f"{url}: cannot download")


def test_a_file_that_cannot_be_read_fails_its_job_and_is_not_kept(server, client, tmp_path):
    response = client.post("/v1/ingest", files={"file": ("broken.mp4", b"this is not a video" * 100)})
    assert response.status_code == 202
    job = wait_job(client, response.json()["id"])
    assert job["state"] == "failed" and "broken.mp4" in job["error"]
    assert job["report"]["failed"] and "/library/" not in job["error"]
    assert not [p for p in (server.data / "library").iterdir() if p.name.endswith("broken.mp4")]


def test_delete_a_source(server, client):
    sources = client.get("/v1/sources").json()["sources"]
    uploaded = next(s for s in sources if s["name"] == "my_talk.ogg")
    response = client.delete(f"/v1/sources/{uploaded['id']}")
    assert response.status_code == 200 and response.json()["passages"] >= 1
    assert uploaded["id"] not in [s["id"] for s in client.get("/v1/sources").json()["sources"]]
    assert not Path(uploaded["source"]).exists()  # the server's own upload goes too
    assert client.get(f"/v1/media/{uploaded['id']}").status_code == 404
    assert client.delete(f"/v1/sources/{uploaded['id']}").status_code == 404


# The framework adapters against the server --------------------------------------------------------


def test_langchain_and_llamaindex_retrievers_against_the_server(server):
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    from mediarag.integrations.langchain import MediaRagRetriever as LangChainRetriever
    from mediarag.integrations.llamaindex import MediaRagRetriever as LlamaIndexRetriever

    docs = LangChainRetriever(url=server.url, token=TOKEN, k=2).invoke("fellow Americans")
    assert Path(docs[0].metadata["source"]).name == "jfk.flac" and "/v1/media/" in docs[0].metadata["media_url"]
    assert {"source", "start", "end", "link", "speaker", "kind", "score"} <= set(docs[0].metadata)
    nodes = LlamaIndexRetriever(url=server.url, token=TOKEN, k=2).retrieve("fellow Americans")
    assert nodes[0].score == docs[0].metadata["score"] and nodes[0].node.metadata["start"] == docs[0].metadata["start"]
    from mediarag.errors import ServiceError

    with pytest.raises(ServiceError, match="access denied"):
        LangChainRetriever(url=server.url, token="wrong-token").invoke("fellow Americans")


# A crash mid-ingest -------------------------------------------------------------------------------


def test_sigkill_mid_ingest_then_restart(index, data_dir):
    from mediarag.store import FaissStore

    index_dir, data = index / "index-copy", index / "crash-data"
    data.mkdir()
    server = Server(index_dir, data)
    try:
        with server.client() as client:
            url = client.post("/v1/ingest", json={"url": "https://example.org/talk.mp4"})  # not allowed here
            assert url.status_code == 403 and "--allow-url-ingest" in url.json()["error"]["message"]
            files = [("file", ("first.ogg", (data_dir / "fleurs-en-001.ogg").read_bytes())),
                     ("file", ("second.wav", (data_dir / "librivox_en_concat.wav").read_bytes()))]  # fmt: skip
            job = client.post("/v1/ingest", files=files).json()
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:  # kill while the second file is being transcribed
                state = client.get(f"/v1/jobs/{job['id']}").json()
                progress = state["progress"]
                if progress["current"] == "second.wav" and progress["files_done"] == 1 and progress["seconds"] < 25:
                    break
                assert state["state"] in ("queued", "running"), state
                time.sleep(0.05)
            else:
                raise AssertionError(f"never saw the second file being transcribed: {state}")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
    finally:
        server.stop()
    library = data / "library"
    kept = {p.name for p in library.iterdir() if not p.name.startswith(".")}
    assert any(n.endswith("_first.ogg") for n in kept) and any(n.endswith("_second.wav") for n in kept)
    # The index: intact, with the committed first file and nothing of the second.
    names = sorted(Path(s).name for s in FaissStore(index_dir).sources())
    assert len(names) == 2 and names[0].endswith("_first.ogg") and names[1] == "jfk.flac"

    again = Server(index_dir, data)
    try:
        with again.client() as client:
            state = client.get(f"/v1/jobs/{job['id']}").json()
            assert state["state"] == "failed" and "the server stopped" in state["error"]
            assert [Path(i["source"]).name[13:] for i in state["report"]["ingested"]] == ["first.ogg"]
            assert [f["source"] for f in state["report"]["failed"]] == ["second.wav"]
            sources = [s["name"] for s in client.get("/v1/sources").json()["sources"]]
            assert sorted(sources) == ["first.ogg", "jfk.flac"]
            assert client.post("/v1/ask", json={"question": QUESTION}).json()["grounded"] is True
        assert not any(p.name.endswith("_second.wav") for p in library.iterdir())  # the half-done upload is gone
        assert again.stop() == -signal.SIGTERM
        assert "INFO stopped" in Path(again.log.name).read_text()
    finally:
        again.stop()
