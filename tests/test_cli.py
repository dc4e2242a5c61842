"""The mediarag command line as a script would use it: real subprocesses, real index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDIARAG_PROGRESS": "0"}


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mediarag.cli", *args], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=600
    )


@pytest.fixture(scope="module")
def index(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("cli")
    media = root / "media"
    media.mkdir()
    shutil.copy(data_dir / "jfk.flac", media / "jfk.flac")
    (media / "broken.mp4").write_text("not a video")
    result = run("ingest", str(media), "--index", str(root / "idx"), "--model", "tiny.en", "--json")
    return root, result


def test_ingest_json_and_exit_code_1_when_a_file_fails(index):
    root, result = index
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [Path(i["source"]).name for i in report["ingested"]] == ["jfk.flac"]
    assert set(report["ingested"][0]) == {"source", "duration", "language", "chunks"}
    assert report["ingested"][0]["language"] == "en" and report["ingested"][0]["chunks"] >= 1
    assert report["skipped"] == []
    assert [Path(f["source"]).name for f in report["failed"]] == ["broken.mp4"]
    assert "broken.mp4" in report["failed"][0]["error"]


def test_reingest_skips_unchanged_and_exits_0(index):
    root, _ = index
    result = run("ingest", str(root / "media" / "jfk.flac"), "--index", str(root / "idx"), "--model", "tiny.en", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["skipped"] == [str((root / "media" / "jfk.flac").resolve())]


def test_pipelined_ingest_with_model_threads_and_decoding_processes(data_dir, tmp_path):
    result = run(
        "ingest", str(data_dir / "jfk.flac"), "--index", str(tmp_path / "idx"), "--model", "tiny.en", "--json",
        "--no-speakers", "--engine", "pipelined", "--model-threads", "2", "--decode-processes", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [Path(i["source"]).name for i in report["ingested"]] == ["jfk.flac"] and report["failed"] == []


def test_ask_json(index):
    root, _ = index
    result = run("ask", "What should you ask?", "--index", str(root / "idx"), "--json", "-k", "2")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"question", "answer", "grounded", "fallback", "citations"}
    assert answer["grounded"] is True and answer["fallback"] is None
    citation = answer["citations"][0]
    assert set(citation) == {"source", "start", "end", "text", "score", "link", "kind", "speaker", "moment"}
    assert citation["source"] == str((root / "media" / "jfk.flac").resolve())
    assert 0 <= citation["start"] < citation["end"] <= 11.1
    # the moment the answer rests on lies inside the passage, and the link plays it
    moment = citation["moment"]
    assert citation["start"] <= moment["start"] < moment["end"] <= citation["end"]
    assert citation["link"].startswith("file://") and citation["link"].endswith(f"#t={moment['start']:.1f},{moment['end']:.1f}")


def test_ask_many_questions_from_a_file(index, tmp_path):
    root, _ = index
    questions = tmp_path / "q.txt"
    questions.write_text("What can you do for your country?\n\nWho are my fellow citizens?\n")
    result = run("ask", "--questions", str(questions), "--index", str(root / "idx"))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == ["What can you do for your country?", "Who are my fellow citizens?"]


def test_ask_human_output_lists_sources(index):
    root, _ = index
    result = run("ask", "What should you ask?", "--index", str(root / "idx"))
    assert result.returncode == 0
    assert "Sources:" in result.stdout and "jfk.flac · 00:0" in result.stdout


def test_search_json(index):
    root, _ = index
    result = run("search", "country", "--index", str(root / "idx"), "--json")
    hits = json.loads(result.stdout)["hits"]
    assert hits and set(hits[0]) == {"source", "start", "end", "text", "score", "link", "kind", "speaker", "moment"}
    assert hits[0]["start"] <= hits[0]["moment"]["start"] < hits[0]["moment"]["end"] <= hits[0]["end"]


def test_sources(index):
    root, _ = index
    result = run("sources", "--index", str(root / "idx"), "--json")
    assert [Path(s["source"]).name for s in json.loads(result.stdout)["sources"]] == ["jfk.flac"]


def test_transcribe_srt(data_dir):
    result = run("transcribe", str(data_dir / "jfk.flac"), "--format", "srt", "--model", "tiny.en")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1\n00:00:00,") and "country" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["ingest"],
        ["ask", "question", "--index", "x", "-k", "0"],
        ["ingest", "a.mp4", "--translate-to", "fr"],
        ["ingest", "a.mp4", "--engine", "pipelined", "--model-threads", "0"],
        ["transcribe", "x.mp4", "--format", "doc"],
        ["bogus"],
    ],
)
def test_usage_errors_exit_2(args):
    assert run(*args).returncode == 2


def test_missing_index_is_a_clear_error(tmp_path):
    result = run("ask", "anything", "--index", str(tmp_path / "none"))
    assert result.returncode == 1
    assert "no index at" in result.stderr and str(tmp_path / "none") in result.stderr


# Bad input gets one line naming the file or URL, never a traceback --------------------------------


def test_questions_file_that_is_not_utf8_and_questions_that_fail(index, tmp_path):
    root, _ = index
    latin = tmp_path / "questions.txt"
    latin.write_bytes("¿Qué pidió Kennedy?\n".encode("latin-1"))
    result = run("ask", "--questions", str(latin), "--index", str(root / "idx"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"questions file {latin} is not UTF-8" in result.stderr
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("What did Kennedy ask?\n" + "why " * 600 + "\nWhat can you do for your country?\n")
    result = run("ask", "--questions", str(mixed), "--index", str(root / "idx"))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and len(lines) == 3 and "Traceback" not in result.stderr
    assert lines[0]["grounded"] and lines[2]["grounded"] and "limit is 2,000" in lines[1]["error"]
    assert run("search", "", "--index", str(root / "idx")).returncode == 2


def test_chat_save_paths_that_cannot_be_written(index, tmp_path):
    root, _ = index
    for target, reason in ((tmp_path, "it is a directory"), (tmp_path / "no" / "chat.json", "does not exist")):
        result = run("chat", "--index", str(root / "idx"), "--save", str(target))
        assert result.returncode == 2 and reason in result.stderr and "Traceback" not in result.stderr
    # /save to a bad path mid-chat: an error, and the chat goes on and is saved where asked.
    saved = tmp_path / "chat.json"
    result = subprocess.run(
        [sys.executable, "-m", "mediarag.cli", "chat", "--index", str(root / "idx"), "--save", str(saved)],
        input=f"What did Kennedy ask?\n/save {tmp_path}\nWhat can you do for your country?\n",
        capture_output=True, text=True, env=ENV, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0 and "it is a directory" in result.stderr
    assert len(json.loads(saved.read_text())["messages"]) == 4


def test_an_unreachable_s3_index_is_one_line(tmp_path):
    env = {**ENV, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "mediarag.cli", "sources", "--index", "s3://bucket/idx"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("mediarag: error: s3://bucket/idx/manifest.json: failed")
