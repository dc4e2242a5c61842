"""faster-whisper transcription on real speech: accuracy, times, languages, silence."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import wer
from mediarag.errors import ConfigError
from mediarag.media import Audio, decode_audio
from mediarag.transcribe import Transcriber

JFK = "And so, my fellow Americans: ask not what your country can do for you, ask what you can do for your country."


def check_times(transcript):
    last = 0.0
    for s in transcript.segments:
        assert 0.0 <= s.start <= s.end <= transcript.duration
        assert s.start >= last - 1e-6
        last = s.start
        for w in s.words:
            assert s.start - 1e-6 <= w.start <= w.end <= s.end + 1e-6


def test_protocol(tiny_en):
    assert isinstance(tiny_en, Transcriber)


def test_jfk_tiny_en_text_and_word_times(tiny_en, data_dir):
    transcript = tiny_en.transcribe(decode_audio(data_dir / "jfk.flac"))
    assert transcript.language == "en"
    assert wer(JFK, transcript.text) < 0.1
    check_times(transcript)
    words = [w for s in transcript.segments for w in s.words]
    americans = next(w for w in words if "Americans" in w.text)
    assert americans.start - 0.3 <= 1.8 <= americans.end + 0.3  # whisper's own test anchor


@pytest.mark.parametrize(("clip", "language", "bound"), [("fleurs-en-000", "en", 0.2), ("fleurs-es-000", "es", 0.25)])
def test_fleurs_with_detected_language(whisper_base, data_dir, clip, language, bound):
    transcript = whisper_base.transcribe(decode_audio(data_dir / f"{clip}.ogg"))
    reference = (data_dir / f"{clip}.txt").read_text()
    assert transcript.language == language
    assert {s.language for s in transcript.segments} == {language}
    assert wer(reference, transcript.text) < bound
    check_times(transcript)


def test_long_file_keeps_every_clip(whisper_base, data_dir, clip_spans):
    """Ten sentences of different loudness: each clip's span holds transcribed speech."""
    audio = decode_audio(data_dir / "fleurs_en_concat.ogg")
    transcript = whisper_base.transcribe(audio, language="en")
    check_times(transcript)
    words = [w for s in transcript.segments for w in s.words]
    for clip in clip_spans["fleurs_en_concat.ogg"]:
        inside = [w.text for w in words if clip["start_s"] - 0.5 <= w.start <= clip["end_s"] + 0.5]
        assert wer(clip["reference_text"], " ".join(inside)) < 0.5, clip["reference_text"]


def test_file_that_switches_language(whisper_base, data_dir):
    english = decode_audio(data_dir / "jfk.flac").samples
    spanish = decode_audio(data_dir / "fleurs-es-000.ogg").samples
    gap = np.zeros(16_000, dtype=np.float32)
    mixed = Audio(np.concatenate([english, gap, spanish]), "mixed.wav")
    switch = (len(english) + len(gap)) / 16_000
    transcript = whisper_base.transcribe(mixed)
    check_times(transcript)
    before = [s for s in transcript.segments if s.end <= switch]
    after = [s for s in transcript.segments if s.start >= switch - 0.5]
    assert before and after
    assert {s.language for s in before} == {"en"} and {s.language for s in after} == {"es"}
    assert wer(JFK, " ".join(s.text for s in before)) < 0.2
    spanish_ref = (data_dir / "fleurs-es-000.txt").read_text()
    assert wer(spanish_ref, " ".join(s.text for s in after)) < 0.3
    assert transcript.languages == ["en", "es"]


def test_video_without_speech_gives_no_segments(whisper_base, data_dir):
    transcript = whisper_base.transcribe(decode_audio(data_dir / "big_buck_bunny_0_30.webm"))
    assert transcript.segments == []
    assert transcript.duration == pytest.approx(30.0, abs=0.1)


def test_translate_to_english(whisper_base, data_dir):
    transcript = whisper_base.transcribe(decode_audio(data_dir / "fleurs-es-000.ogg"), task="translate")
    words = set(transcript.text.lower().split())
    assert transcript.task == "translate"
    assert {"the", "to", "that", "of"} & words
    assert not {"los", "que", "sobre"} & words


def test_english_only_model_refuses_other_languages(tiny_en, data_dir):
    audio = decode_audio(data_dir / "jfk.flac")
    with pytest.raises(ConfigError, match="English-only"):
        tiny_en.transcribe(audio, task="translate")
    with pytest.raises(ConfigError, match="English-only"):
        tiny_en.transcribe(audio, language="es")


def test_progress_reaches_the_end(tiny_en, data_dir):
    audio = decode_audio(data_dir / "jfk.flac")
    seen = []
    tiny_en.transcribe(audio, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(audio.duration)
