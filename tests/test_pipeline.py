"""The public pipeline and the batch driver, over real files, with the shipped test stand-ins
(`mediarag.testing`) for Whisper and the embedder so that the facade's logic runs in seconds."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from mediarag import MediaQA, Settings
from mediarag.pipeline import MediaFile, Pipeline, register_stage, registered_stages, unregister_stage
from mediarag.testing import HashingEmbedder, ScriptedTranscriber

DATA = Path(__file__).parent / "data"

SCRIPT = {
    "jfk.flac": [(0.3, 5.0, "And so my fellow Americans, ask not what your country can do for you."),
                 (5.5, 10.4, "Ask what you can do for your country.")],
    "fleurs-en-000.ogg": [(0.5, 9.0, "The volcano erupted twice in the spring of that year.")],
}  # fmt: skip


def make_qa(index: Path, transcriber: ScriptedTranscriber | None = None, **settings: object) -> MediaQA:
    return MediaQA(
        settings=Settings(index_dir=index, segmenter="window", **settings),  # type: ignore[arg-type]
        transcriber=transcriber or ScriptedTranscriber(SCRIPT),
        embedder=HashingEmbedder(),
    )


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    for name in ("jfk.flac", "fleurs-en-000.ogg"):
        shutil.copy(DATA / name, folder / name)
    return folder


def test_stages_in_order_and_each_leaves_its_part(media: Path, tmp_path: Path) -> None:
    qa = make_qa(tmp_path / "idx")
    pipeline = qa.pipeline
    assert pipeline.names == ["decode", "transcribe", "sentences", "passages", "embed"]
    item = pipeline.process(media / "jfk.flac")
    assert isinstance(item, MediaFile) and item.audio is None  # released at the end
    assert item.source == str((media / "jfk.flac").resolve()) and len(item.sha256) == 64
    assert [s.text for s in item.sentences] == [text for _, _, text in SCRIPT["jfk.flac"]]
    passage = item.passages[0]
    assert passage.kind == "speech" and [s.text for s in passage.sentences] == [s.text for s in item.sentences]
    assert all(not s.words for s in passage.sentences) and passage.sentences[1].start == pytest.approx(5.5)
    assert item.vectors is not None and item.vectors.shape == (len(item.passages), 64)
    partial = pipeline.process(media / "jfk.flac", until="sentences")
    assert partial.sentences and not partial.passages and partial.vectors is None


def test_a_registered_stage_runs_in_its_place_everywhere(media: Path, tmp_path: Path) -> None:
    seen: list[str] = []

    class Shouting:
        name = "shouting"

        def warm_up(self) -> None:
            seen.append("warm")

        def run(self, item: MediaFile) -> None:
            assert item.transcript is not None and not item.sentences  # after transcribe
            item.transcript.segments[:] = [
                s.model_copy(update={"text": s.text.upper(), "words": tuple(w.model_copy(update={"text": w.text.upper()}) for w in s.words)})
                for s in item.transcript.segments
            ]
            seen.append(item.source)

    class Broken:
        name = "broken"

        def warm_up(self) -> None:
            pass

        def run(self, item: MediaFile) -> None:
            raise RuntimeError("no such codec")

    register_stage("shouting", lambda context: Shouting(), after="transcribe", optional=False)
    register_stage("broken", lambda context: Broken(), after="passages")
    try:
        assert [s.name for s in registered_stages()][-2:] == ["shouting", "broken"]
        qa = make_qa(tmp_path / "idx")
        assert qa.pipeline.names == ["decode", "transcribe", "shouting", "sentences", "passages", "broken", "embed"]
        report = qa.ingest([media / "jfk.flac"])
        assert report.ok and len(seen) == 1
        assert "the broken stage failed: RuntimeError: no such codec" in report.warnings[0]
        assert qa.search("fellow americans")[0].text.startswith("AND SO MY FELLOW AMERICANS")
        only = make_qa(tmp_path / "other", stages=["broken"])
        assert "shouting" not in only.pipeline.names
    finally:
        unregister_stage("shouting")
        unregister_stage("broken")
    assert make_qa(tmp_path / "idx").pipeline.names == ["decode", "transcribe", "sentences", "passages", "embed"]


def test_ingest_skips_replaces_prunes_and_isolates_a_bad_file(media: Path, tmp_path: Path) -> None:
    transcriber = ScriptedTranscriber(SCRIPT)
    qa = make_qa(tmp_path / "idx", transcriber)
    (media / "broken.wav").write_bytes(b"RIFF not really a wav")
    report = qa.ingest([media])
    assert sorted(Path(i.source).name for i in report.ingested) == ["fleurs-en-000.ogg", "jfk.flac"]
    assert [Path(f.source).name for f in report.failed] == ["broken.wav"] and "broken.wav" in report.failed[0].error
    assert transcriber.calls == 2
    again = qa.ingest([media / "jfk.flac"])
    assert again.skipped and not again.ingested and transcriber.calls == 2
    shutil.copy(DATA / "fleurs-en-001.ogg", media / "jfk.flac")  # same name, new content
    replaced = qa.ingest([media / "jfk.flac"])
    assert len(replaced.ingested) == 1 and replaced.ingested[0].duration < 10
    (media / "fleurs-en-000.ogg").unlink()
    assert qa.ingest([media], prune=True).ok is False  # broken.wav still fails
    assert [Path(s).name for s in qa.sources()] == ["jfk.flac"]


def test_a_file_whose_commit_fails_leaves_no_trace(media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    qa = make_qa(tmp_path / "idx")
    real_fsync = os.fsync
    failing = {"on": True}

    def full_disk(fd: int) -> None:  # the first file's segment meets a full disk
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if failing["on"] and name.startswith(".seg-"):
            failing["on"] = False
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    report = qa.ingest([media / "fleurs-en-000.ogg", media / "jfk.flac"])
    monkeypatch.undo()
    assert [Path(f.source).name for f in report.failed] == ["fleurs-en-000.ogg"]
    assert "No space left" in report.failed[0].error
    assert [Path(s).name for s in qa.sources()] == ["jfk.flac"]
    assert [Path(s).name for s in make_qa(tmp_path / "idx").sources()] == ["jfk.flac"]


def test_questions_are_checked(media: Path, tmp_path: Path) -> None:
    from mediarag.errors import ConfigError
    from mediarag.retrieve import MAX_QUERY_CHARS

    qa = make_qa(tmp_path / "idx")
    qa.ingest([media / "jfk.flac"])
    for bad in ("", "   "):
        with pytest.raises(ConfigError, match="empty"):
            qa.search(bad)
        with pytest.raises(ConfigError, match="empty"):
            qa.ask(bad)
    with pytest.raises(ConfigError, match=f"limit is {MAX_QUERY_CHARS:,}"):
        qa.ask("why " * 1000)
    with pytest.raises(ConfigError, match="k must be at least 1"):
        qa.search("country", k=0)
    chat = qa.conversation()
    with pytest.raises(ConfigError, match="limit"):
        chat.ask("x" * (MAX_QUERY_CHARS + 1))
    assert qa.ask("what can you do for your country").grounded


def test_pipeline_of_components(media: Path) -> None:
    from mediarag.segment import FixedWindowSegmenter

    pipeline = Pipeline.of(ScriptedTranscriber(SCRIPT), FixedWindowSegmenter(), HashingEmbedder())
    item = pipeline.process(media / "fleurs-en-000.ogg", "https://example.org/a.ogg")
    assert item.source == "https://example.org/a.ogg" and item.passages[0].source == item.source


def test_a_damaged_file_is_indexed_with_a_warning_in_the_report(tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    data = (DATA / "librivox_en_speech.mp4").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    qa = make_qa(tmp_path / "idx")
    report = qa.ingest([cut])
    assert report.ok and len(report.ingested) == 1
    assert len(report.warnings) == 1 and str(cut) in report.warnings[0]
    assert report.ingested[0].duration < 25  # what decoded, not what the container announces
