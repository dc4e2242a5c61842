"""Decoding real media files, and the errors bad files get."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_video_without_audio
from mediarag.errors import MediaError
from mediarag.media import SAMPLE_RATE, decode_audio, file_sha256, find_media


@pytest.mark.parametrize(
    ("name", "seconds"),
    [
        ("jfk.flac", 11.0),
        ("librivox_en_concat.wav", 30.23),
        ("fleurs_en_concat.ogg", 101.48),
        ("librivox_en_speech.mp4", 30.23),
        ("big_buck_bunny_0_30.webm", 30.0),
    ],
)
def test_decodes_to_16k_mono_float32_with_the_audio_duration(data_dir, name, seconds):
    audio = decode_audio(data_dir / name)
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.duration == pytest.approx(seconds, abs=0.1)
    assert 0.01 < np.abs(audio.samples).max() < 2.0  # resampling may overshoot 1.0 a little


def test_video_duration_is_the_audio_tracks_not_the_containers(data_dir, tmp_path):
    import av

    # An mp4 whose video runs 3 s longer than its audio: the audio's length counts.
    src = decode_audio(data_dir / "jfk.flac")
    out = tmp_path / "longer_video.mp4"
    with av.open(str(out), "w") as container:
        video = container.add_stream("mpeg4", rate=5)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for i in range(int(14 * 5)):
            frame = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        step = 1024
        for i in range(0, len(src.samples), step):
            block = src.samples[i : i + step].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="flt", layout="mono")
            frame.sample_rate = 16000
            frame.pts = i
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    decoded = decode_audio(out)
    assert decoded.duration == pytest.approx(src.duration, abs=0.15)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MediaError, match="nope.mp3"):
        decode_audio(tmp_path / "nope.mp3")


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match=r"empty\.wav.*empty"):
        decode_audio(empty)


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 20)
    with pytest.raises(MediaError, match=r"notes\.mp4"):
        decode_audio(fake)


def test_truncated_file(data_dir, tmp_path):
    broken = tmp_path / "broken.ogg"
    broken.write_bytes((data_dir / "fleurs-en-000.ogg").read_bytes()[:300])
    with pytest.raises(MediaError, match=r"broken\.ogg"):
        decode_audio(broken)


def test_file_without_audio_stream(tmp_path):
    silent_video = write_video_without_audio(tmp_path / "picture_only.mp4")
    with pytest.raises(MediaError, match=r"picture_only\.mp4.*no audio stream"):
        decode_audio(silent_video)


def test_find_media_recurses_and_keeps_explicit_files(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "talk.MP4").write_bytes(b"x")
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "song.mp3").write_bytes(b"x")
    found = list(find_media([tmp_path, tmp_path / "a" / "notes.txt"]))
    assert [p.name for p in found] == ["talk.MP4", "song.mp3", "notes.txt"]  # sorted by path
    with pytest.raises(MediaError, match="missing"):
        list(find_media([tmp_path / "missing"]))


def test_sha256_changes_with_content(tmp_path):
    f = tmp_path / "x.wav"
    f.write_bytes(b"abc")
    first = file_sha256(f)
    f.write_bytes(b"abd")
    assert file_sha256(f) != first
