"""The package surface: light import, links, exports, packaged weights."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mediarag.errors import ConfigError, ModelError
from mediarag.export import export
from mediarag.links import clock, media_link
from mediarag.schema import Segment, Transcript


def test_import_is_light():
    code = (
        "import sys, mediarag;"
        "heavy = [m for m in ('torch', 'faiss', 'faster_whisper', 'ctranslate2', 'sentence_transformers', "
        "'transformers', 'av', 'scipy', 'boto3', 'botocore', 'streamlit') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_links(tmp_path):
    media = tmp_path / "talk one.mp4"
    assert media_link(str(media), 12.34, 45.67) == media.as_uri() + "#t=12.3,45.7"
    assert media_link("https://example.org/v.mp4#t=3", 1, 2) == "https://example.org/v.mp4#t=1.0,2.0"
    assert media_link("s3://bucket/a/b.mp3", 0, 5.5) == "s3://bucket/a/b.mp3#t=0.0,5.5"
    assert clock(75) == "01:15" and clock(3725) == "1:02:05"


def test_exports():
    t = Transcript(source="x.wav", language="en", duration=70, segments=[
        Segment(start=0.5, end=2.25, text="Hello."), Segment(start=61.0, end=62.0, text="Bye.")])
    assert export(t, "srt") == "1\n00:00:00,500 --> 00:00:02,250\nHello.\n\n2\n00:01:01,000 --> 00:01:02,000\nBye.\n"
    assert export(t, "vtt").startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.250\nHello.\n")
    assert export(t, "txt") == "Hello.\nBye.\n"
    assert Transcript.model_validate_json(export(t, "json")) == t
    with pytest.raises(ConfigError, match="doc"):
        export(t, "doc")


def test_schema_rejects_impossible_times():
    with pytest.raises(ValueError, match="after end"):
        Segment(start=3, end=2, text="x")
    with pytest.raises(ValueError, match="ends after the audio"):
        Transcript(source="x", language="en", duration=5, segments=[Segment(start=1, end=9, text="x")])


def test_packaged_weights_are_joined_and_verified(tmp_path, monkeypatch):
    from mediarag.weights import WHISPER_BASE, materialize

    monkeypatch.setenv("MEDIARAG_CACHE", str(tmp_path))
    directory = materialize(WHISPER_BASE)
    assert (directory / "model.bin").stat().st_size > 100_000_000
    assert (directory / "model.bin.sha256").read_text() == WHISPER_BASE.sha256
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in directory.iterdir()}
    bad = WHISPER_BASE.__class__(**{**WHISPER_BASE.__dict__, "name": "tampered", "sha256": "0" * 64})
    with pytest.raises(ModelError, match="SHA-256"):
        materialize(bad)
    assert not (tmp_path / "tampered" / "model.bin").exists()
