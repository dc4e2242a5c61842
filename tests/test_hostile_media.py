"""Hostile media: names FFmpeg would read as protocols, files that are not regular files, and
files cut short. Real files, real FIFOs, real devices; the public API and the CLI."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from mediarag import MediaQA
from mediarag.errors import MediaError
from mediarag.media import SAMPLE_RATE, decode_audio, file_sha256, find_media, wav_bytes

HANG_SECONDS = 60


def silent_wav(path: Path, seconds: float = 3.0) -> Path:
    path.write_bytes(wav_bytes(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)))
    return path


# Names are names -------------------------------------------------------------------------------


def test_a_name_that_looks_like_an_ffmpeg_protocol_is_only_a_name(data_dir, tmp_path, monkeypatch):
    # The directory also holds the files the concat protocol would join: jfk's speech first.
    shutil.copyfile(data_dir / "jfk.flac", tmp_path / "a.flac")
    silent_wav(tmp_path / "b.wav", 3.0)
    silent_wav(tmp_path / "concat:a.flac|b.wav", 3.0)
    shutil.copyfile(data_dir / "jfk.flac", tmp_path / "ep1:intro.flac")
    monkeypatch.chdir(tmp_path)  # relative names, as a user types them

    tricky = decode_audio("concat:a.flac|b.wav")
    assert tricky.duration == pytest.approx(3.0, abs=0.01)  # the 3-s silence itself, not jfk + silence
    assert np.abs(tricky.samples).max() < 1e-3
    assert tricky.source == "concat:a.flac|b.wav" and tricky.warnings == ()

    episode = decode_audio(Path("ep1:intro.flac"))  # was "Protocol not found"
    assert episode.duration == pytest.approx(11.0, abs=0.05)
    assert np.array_equal(episode.samples, decode_audio(data_dir / "jfk.flac").samples)


def test_a_concat_list_inside_a_file_cannot_pull_in_other_files(data_dir, tmp_path, monkeypatch):
    shutil.copyfile(data_dir / "jfk.flac", tmp_path / "a.flac")
    playlist = tmp_path / "episode.mp3"
    playlist.write_text("ffconcat version 1.0\nfile a.flac\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MediaError, match=r"episode\.mp3: not a readable media file"):
        decode_audio(playlist)


def test_every_container_decodes_from_the_open_file(data_dir, tmp_path):
    import av

    # An mp4 written with its index (moov) at the end, as PyAV and many cameras do: FFmpeg has to
    # seek in the open file to find it.
    src = decode_audio(data_dir / "jfk.flac")
    out = tmp_path / "moov_at_end.mp4"
    with av.open(str(out), "w") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE)
        stream.layout = "mono"
        for i in range(0, len(src.samples), 1024):
            block = src.samples[i : i + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = out.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat") > 0
    assert decode_audio(out).duration == pytest.approx(11.0, abs=0.1)
    for name, seconds in [
        ("jfk.flac", 11.0),
        ("librivox_en_concat.wav", 30.23),
        ("fleurs_en_concat.ogg", 101.48),
        ("librivox_en_speech.mp4", 30.23),
        ("big_buck_bunny_0_30.webm", 30.0),
    ]:
        audio = decode_audio(data_dir / name)
        assert audio.duration == pytest.approx(seconds, abs=0.1), name
        assert audio.warnings == (), name  # intact files: nothing to report


# Only regular files ----------------------------------------------------------------------------


def no_hang(action, fifo: Path | None = None):
    """``action()``'s result, or a failure (not a hang) if it does not return in time.

    A reader stuck on ``fifo`` is let go by opening and closing the FIFO's write end."""
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_SECONDS)
    if worker.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            worker.join(HANG_SECONDS)
        pytest.fail(f"still running after {HANG_SECONDS} s: hung on a non-regular file")
    if "error" in result:
        raise result["error"]
    return result["value"]


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "f.wav"
    os.mkfifo(path)
    return path


def test_ingest_refuses_a_fifo_by_name_and_indexes_the_rest(tmp_path, fifo, data_dir, tiny_en, e5):
    qa = MediaQA(tmp_path / "index", transcriber=tiny_en, embedder=e5)
    report = no_hang(lambda: qa.ingest([fifo, data_dir / "jfk.flac"]), fifo)
    assert [Path(i.source).name for i in report.ingested] == ["jfk.flac"]
    [failure] = report.failed
    assert failure.source == str(fifo) and failure.error == f"{fifo}: is a FIFO, not a regular file"


def test_ingest_refuses_a_device(tmp_path, tiny_en, e5):
    qa = MediaQA(tmp_path / "index", transcriber=tiny_en, embedder=e5)
    report = no_hang(lambda: qa.ingest(["/dev/zero"]))
    [failure] = report.failed
    assert failure.error == "/dev/zero: is a character device, not a regular file"
    assert not report.ingested


def test_a_directory_walk_skips_fifos_and_sockets(tmp_path, fifo, data_dir, tiny_en, e5):
    shutil.copyfile(data_dir / "jfk.flac", tmp_path / "jfk.flac")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "s.mp3"))
        assert [p.name for p in find_media([tmp_path])] == ["jfk.flac"]
        with pytest.raises(MediaError, match=r"s\.mp3: is a socket, not a regular file"):
            list(find_media([tmp_path / "s.mp3"]))
        qa = MediaQA(tmp_path / "index", transcriber=tiny_en, embedder=e5)
        report = no_hang(lambda: qa.ingest([tmp_path]), fifo)
    assert [Path(i.source).name for i in report.ingested] == ["jfk.flac"] and not report.failed


def test_reading_functions_refuse_what_is_not_a_regular_file(tmp_path, fifo):
    for call in (decode_audio, file_sha256, lambda p: list(find_media([p]))):
        with pytest.raises(MediaError, match=r"f\.wav: is a FIFO, not a regular file"):
            no_hang(lambda call=call: call(fifo), fifo)
        with pytest.raises(MediaError, match=r"^/dev/zero: is a character device, not a regular file$"):
            no_hang(lambda call=call: call(Path("/dev/zero")))
    folder = tmp_path / "talk.mp4"
    folder.mkdir()
    for call in (decode_audio, file_sha256):
        with pytest.raises(MediaError, match=r"talk\.mp4: is a directory, not a regular file"):
            call(folder)
    with pytest.raises(MediaError, match=r"gone\.wav: no such file"):
        decode_audio(tmp_path / "gone.wav")


def test_a_conversation_refuses_a_fifo(tmp_path, fifo, tiny_en, e5):
    chat = MediaQA(tmp_path / "index", transcriber=tiny_en, embedder=e5).conversation()
    with pytest.raises(MediaError, match=r"f\.wav: is a FIFO, not a regular file"):
        no_hang(lambda: chat.add_file(fifo), fifo)


def test_cli_transcribe_says_a_fifo_is_a_fifo(tmp_path, fifo):
    env = {**os.environ, "MEDIARAG_PROGRESS": "0", "HF_HUB_OFFLINE": "1"}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mediarag.cli", "transcribe", str(fifo), "--model", "tiny.en"],
            capture_output=True, text=True, env=env, timeout=HANG_SECONDS, cwd=tmp_path,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # lets the stuck child go
        pytest.fail("mediarag transcribe hung on a FIFO")
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"mediarag: error: {fifo}: is a FIFO, not a regular file"


# Files cut short -------------------------------------------------------------------------------


def half_of(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    return target


def test_a_damaged_tail_is_kept_and_reported(data_dir, tmp_path):
    cut = half_of(data_dir / "librivox_en_speech.mp4", tmp_path / "cut.mp4")
    audio = decode_audio(cut)
    assert 13.0 < audio.duration < 16.0  # what decoded is kept, as players do
    [warning] = audio.warnings
    assert warning.startswith(f"{cut}: decoding stopped at {audio.duration:.1f} s of the 30.2 s the file announces (")
    assert "Invalid data" in warning and warning.endswith("the rest is left out")


@pytest.mark.parametrize("name", ["jfk.flac", "big_buck_bunny_0_30.webm"])
def test_audio_much_shorter_than_announced_is_reported(data_dir, tmp_path, name):
    # FLAC announces its length in its header, WebM in its segment info: half the bytes decode
    # to half the audio without any decoding error.
    cut = half_of(data_dir / name, tmp_path / f"cut_{name}")
    audio = decode_audio(cut)
    full = decode_audio(data_dir / name).duration
    assert audio.duration < 0.6 * full
    [warning] = audio.warnings
    assert warning == (
        f"{cut}: only {audio.duration:.1f} s of audio decoded, but the file announces {full:.1f} s; it may be truncated"
    )


def test_a_video_longer_than_its_audio_is_not_reported(data_dir, tmp_path):
    import av

    # Matroska gives no audio duration of its own, only the container's: the video's 14 s.
    src = decode_audio(data_dir / "jfk.flac")
    out = tmp_path / "longer_video.mkv"
    with av.open(str(out), "w") as container:
        video = container.add_stream("mpeg4", rate=5)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=SAMPLE_RATE)
        audio.layout = "mono"
        for i in range(14 * 5):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for i in range(0, len(src.samples), 1024):
            block = src.samples[i : i + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
            frame.sample_rate, frame.pts = SAMPLE_RATE, i
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    decoded = decode_audio(out)
    assert decoded.duration == pytest.approx(11.0, abs=0.15)
    assert decoded.warnings == ()
