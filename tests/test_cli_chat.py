"""`mediarag chat` and the generator options of `mediarag ask`, as real subprocesses."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from llm_support import THREADS, media_index

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDIARAG_PROGRESS": "0"}
for name in ("OPENAI_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "MEDIARAG_GENERATOR"):
    ENV.pop(name, None)

NOTES = "The pilot starts in the Lisbon office on the third of June.\n\nStaff training takes two days.\n"


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mediarag.cli", *args], input=stdin, capture_output=True, text=True, env=ENV,
        timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def index(tiny_en, e5) -> Path:
    return media_index(tiny_en, e5)  # the CLI opens it with the default embedder


def test_chat_reads_questions_from_stdin_with_a_file_and_commands(index, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    saved = tmp_path / "chat.json"
    stdin = (
        "Where does the pilot start?\n"
        "/kb off\n"
        "What did Kennedy ask his fellow Americans to do?\n"
        f"/save {saved}\n"
        "/quit\n"
        "never asked\n"
    )
    result = run("chat", "--index", str(index), "--file", str(notes), stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "added  notes.txt  1 passages" in result.stderr and "knowledge base off" in result.stderr
    out = result.stdout
    assert out.startswith("The pilot starts in the Lisbon office") and "\nSources:\n  [1] notes.txt  (score" in out
    assert "jfk.flac" not in out  # knowledge base off: the index was not searched
    state = json.loads(saved.read_text())
    assert state["use_knowledge_base"] is False and len(state["messages"]) == 4
    assert state["messages"][2]["content"].startswith("What did Kennedy") and "never asked" not in saved.read_text()


def test_chat_json_lines_load_and_knowledge_base_switch(index, tmp_path):
    saved = tmp_path / "chat.json"
    first = run("chat", "--index", str(index), "--json", "--save", str(saved),
                stdin="Which town was made famous by Lord Byron?\n")  # fmt: skip
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert answer["grounded"] and "sintra" in answer["answer"].lower()
    follow = run("chat", "--index", str(index), "--json", "--load", str(saved),
                 stdin="Who praised it?\n/kb off\nWhich town was made famous by Lord Byron?\n")  # fmt: skip
    assert follow.returncode == 0, follow.stderr
    answer, off = (json.loads(line) for line in follow.stdout.splitlines())
    assert "Lord Byron" in answer["standalone_question"]
    assert answer["citations"][0]["source"].endswith("fleurs_en_concat.ogg")
    assert off["citations"] == [] and not off["grounded"]


def test_ask_with_the_local_model_streams_to_stdout(index):
    pytest.importorskip("llama_cpp", reason="the llm extra is not installed")
    result = run("ask", "What did Kennedy ask his fellow Americans to do?", "--index", str(index),
                 "--generator", "local", "--llm-model", "qwen2.5-0.5b", "--llm-timeout", "900", "-k", "2",
                 "--llm-threads", str(THREADS))  # fmt: skip
    assert result.returncode == 0, result.stderr
    text, _, sources = result.stdout.partition("\nSources:\n")
    # the source shows the moment the answer rests on, inside the 11-s clip
    assert "country" in text.lower() and re.search(r"\[1\] jfk\.flac · 00:00-00:(0[5-9]|10) ", sources), sources


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--generator", "sagemaker"], "falcon_ep_name"),  # no endpoint name given or in the environment
        (["--generator", "openai"], "needs a model name"),
    ],
)
def test_generators_that_cannot_be_built_are_usage_errors(index, args, message):
    result = run("ask", "Who?", "--index", str(index), *args)
    assert result.returncode == 2 and message in result.stderr


def test_a_refused_generator_request_does_not_end_the_chat(runtime, tmp_path):
    """A SageMaker endpoint that fails one answer: the error is printed and the chat goes on."""
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    env = {
        **ENV,
        **{k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime.url,
        "falcon_ep_name": "falcon",
    }
    stdin = "Where does the pilot start? break the stream\nHow long does staff training take?\n"
    result = subprocess.run(
        [sys.executable, "-m", "mediarag.cli", "chat", "--no-kb", "--file", str(notes), "--generator", "sagemaker"],
        input=stdin, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "mediarag: error: SageMakerGenerator:" in result.stderr and "ModelStreamError" in result.stderr
    assert "Staff training takes two days" in result.stdout and result.stdout.count("Sources:") == 1
