"""The app's parts that do not draw: upload storage, display rules, configuration, `mediarag app`."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mediarag import ConfigError, MediaError, Settings
from mediarag.app import AppConfig, streamlit_command
from mediarag.app.config import CONFIG_ENV
from mediarag.app.engine import GeneratorChoice, citation_label, play_start, player_for
from mediarag.app.uploads import LIBRARY_EXTENSIONS, display_name, store_upload
from mediarag.schema import Citation, Moment

MB = 1 << 20


@pytest.mark.parametrize(
    ("name", "stored_as"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\Windows\\talk.MP3", "talk.mp3"),
        ("/abs/path/Meeting notes (v2).md", "Meeting_notes_v2.md"),
        ("Réunion d'équipe.wav", "R_union_d_quipe.wav"),
        ("...hidden.txt", "hidden.txt"),
        ("-rf .mp4", "rf.mp4"),
        (".mp4", "upload.mp4"),
    ],
)
def test_uploads_get_generated_names_inside_the_folder(tmp_path, name, stored_as):
    folder = tmp_path / "uploads"
    stored = store_upload(folder, name, b"data", max_bytes=MB)
    assert stored.parent == folder and stored.read_bytes() == b"data"
    prefix, _, rest = stored.name.partition("_")
    assert len(prefix) == 12 and int(prefix, 16) >= 0 and rest == stored_as
    assert display_name(str(stored)) == stored_as
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [stored.name]


def test_two_uploads_of_one_name_are_both_kept(tmp_path):
    a = store_upload(tmp_path, "talk.mp3", b"one", max_bytes=MB)
    b = store_upload(tmp_path, "talk.mp3", b"two", max_bytes=MB)
    assert a != b and a.read_bytes() == b"one" and b.read_bytes() == b"two"


def test_refused_uploads_name_the_file_and_leave_nothing(tmp_path):
    with pytest.raises(MediaError, match=r"^run\.sh: files of type \.sh are not accepted; accepted: .*\.mp4"):
        store_upload(tmp_path, "run.sh", b"#!/bin/sh", max_bytes=MB)
    with pytest.raises(MediaError, match=r"^README: files of type \(no extension\) are not accepted"):
        store_upload(tmp_path, "README", b"x", max_bytes=MB)
    with pytest.raises(MediaError, match=r"^notes\.txt: files of type \.txt are not accepted"):
        store_upload(tmp_path, "notes.txt", b"x", max_bytes=MB, extensions=LIBRARY_EXTENSIONS)
    with pytest.raises(MediaError, match=r"^empty\.wav: the file is empty$"):
        store_upload(tmp_path, "empty.wav", b"", max_bytes=MB)
    # Streamed in pieces: the limit stops the copy, and the partial file is removed.
    with pytest.raises(MediaError, match=r"^big\.wav: larger than the upload limit of 2 MB$"):
        store_upload(tmp_path, "big.wav", io.BytesIO(b"x" * (2 * MB + 1)), max_bytes=2 * MB)
    assert list(tmp_path.iterdir()) == []
    exact = store_upload(tmp_path, "exact.wav", io.BytesIO(b"x" * (2 * MB)), max_bytes=2 * MB)
    assert exact.stat().st_size == 2 * MB


def test_citation_labels_and_players():
    audio = Citation(source="/m/0123456789ab_talk.flac", start=91.4, end=99.2, text="t", score=0.9, link="x")
    assert citation_label(audio) == "talk.flac · 01:31-01:39"
    assert play_start(audio) == 91
    at = audio.model_copy(update={"moment": Moment(start=94.6, end=97.0)})
    assert citation_label(at) == "talk.flac · 01:34-01:37" and play_start(at) == 94
    text = audio.model_copy(update={"source": "/m/notes.md"})
    assert citation_label(text) == "notes.md"
    assert player_for("/m/a.flac").kind == "audio" and player_for("/m/a.flac").mime == "audio/flac"
    assert player_for("/m/a.ogg").mime == "audio/ogg" and player_for("/m/a.mp3").mime == "audio/mpeg"
    assert player_for("/m/a.mp4").kind == "video" and player_for("/m/a.webm").mime == "video/webm"
    assert player_for("https://example.org/v.mp4?sig=1").kind == "video"
    assert player_for("/m/notes.txt") is None and player_for("s3://bucket/a.mp4") is None


def test_generator_choice_applies_to_settings_and_rejects_bad_values():
    base = Settings(index_dir="idx", whisper_model="tiny.en", generator="local", llm_model="qwen2.5-1.5b")
    choice = GeneratorChoice.from_settings(base)
    assert choice.kind == "local" and choice.describe() == "local LLM qwen2.5-1.5b"
    openai = GeneratorChoice(kind="openai", llm_model="m", openai_base_url="http://h/v1", openai_api_key="sk-123")
    applied = openai.apply(base)
    assert applied.generator == "openai" and applied.openai_api_key.get_secret_value() == "sk-123"
    assert applied.whisper_model == "tiny.en" and str(applied.index_dir) == "idx"
    assert "sk-123" not in repr(openai) and openai.describe() == "m at http://h/v1"
    with pytest.raises(ValueError, match="kind"):
        GeneratorChoice(kind="gpt")


def test_app_config_travels_without_the_api_key(tmp_path, monkeypatch):
    settings = Settings(index_dir=tmp_path / "idx", generator="openai", openai_api_key="sk-secret", llm_model="m")
    config = AppConfig(settings=settings, data_dir=tmp_path / "d", max_upload_mb=5)
    env = config.to_env()
    assert "sk-secret" not in env[CONFIG_ENV]
    monkeypatch.setenv(CONFIG_ENV, env[CONFIG_ENV])
    back = AppConfig.from_env()
    assert back.settings.openai_api_key is None and back.settings.llm_model == "m"
    assert back.data_dir == (tmp_path / "d").resolve() and back.max_upload_bytes == 5 * MB
    monkeypatch.setenv(CONFIG_ENV, "{not json")
    with pytest.raises(ConfigError, match=CONFIG_ENV):
        AppConfig.from_env()
    command = streamlit_command(config, host="127.0.0.1", port=8600)
    assert command[1:4] == ["-m", "streamlit", "run"] and Path(command[4]).name == "page.py"
    options = dict(zip(command[5::2], command[6::2]))
    assert options["--server.port"] == "8600" and options["--server.maxUploadSize"] == "5"
    assert options["--client.showErrorDetails"] == "none" and options["--server.headless"] == "true"


def app_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDIARAG_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "mediarag.cli", "app", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_app_command_refuses_a_taken_port_and_bad_limits(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = app_cli("--index", str(tmp_path / "idx"), "--port", str(port), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"mediarag: error: cannot serve on 127.0.0.1:{port}: ")
    assert "choose another --port" in result.stderr and "Traceback" not in result.stderr
    result = app_cli("--index", str(tmp_path / "idx"), "--max-upload-mb", "0")
    assert result.returncode == 2 and "--max-upload-mb must be at least 1, got 0" in result.stderr
    result = app_cli("--index", str(tmp_path / "idx"), "--port", "70000")
    assert result.returncode == 2 and "--port must be between 1 and 65535, got 70000" in result.stderr
