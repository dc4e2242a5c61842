"""The spoken XQuAD builder (benchmarks/spoken_xquad.py) on one article in English and Spanish."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mediarag.media import decode_audio

MODULE = Path(__file__).resolve().parents[1] / "benchmarks" / "spoken_xquad.py"
LANGUAGES = ("en", "es")
SR = 16_000


@pytest.fixture(scope="module")
def sx():
    spec = importlib.util.spec_from_file_location("spoken_xquad", MODULE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["spoken_xquad"] = module  # dataclasses and worker processes look it up by name
    spec.loader.exec_module(module)
    if not (module.XQUAD_DIR / "xquad.en.json").is_file():
        pytest.skip(f"XQuAD data not found in {module.XQUAD_DIR}")
    return module


@pytest.fixture(scope="module")
def built(sx, tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not on PATH (install it with `make system-deps`)")
    root = tmp_path_factory.mktemp("spoken_xquad")
    corpus = sx.build(languages=LANGUAGES, articles=1, root=root, workers=2, progress=False)
    return root, corpus


def _norm(text: str) -> str:
    return " ".join(text.split())


def test_manifest_fields(sx, built):
    root, corpus = built
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["version"] == 1
    assert "XQuAD" in manifest["source"] and "CC BY-SA 4.0" in manifest["source"]
    assert manifest["espeak"].startswith("eSpeak NG") and manifest["rate"] == 175
    assert {f["language"] for f in manifest["files"]} == set(LANGUAGES)
    for f in manifest["files"]:
        assert {"path", "language", "article", "title", "duration", "paragraphs"} <= f.keys()
        assert f["path"] == f"{f['language']}/00-super-bowl-50.ogg" and f["article"] == 0
        assert f["title"] == "Super_Bowl_50" and len(f["paragraphs"]) == 5
        for p in f["paragraphs"]:
            assert {"index", "start", "end", "text", "sentences"} <= p.keys()
            for s in p["sentences"]:
                assert set(s) == {"start", "end", "text"}
    q = manifest["questions"][0]
    assert set(q) == {"id", "article", "paragraph", "question", "answers"}
    assert set(q["question"]) == set(q["answers"]) == set(LANGUAGES)
    # load() gives the same corpus back, with absolute paths.
    again = sx.load(root)
    assert again.files == corpus.files and again.questions == corpus.questions
    assert all(f.path.is_absolute() and f.path.is_file() for f in corpus.files)
    assert corpus.file_for("es", 0).language == "es"
    with pytest.raises(KeyError):
        corpus.file_for("de", 0)
    assert corpus.total_hours("en") == pytest.approx(corpus.file_for("en", 0).duration / 3600)


def test_spans_ordered_and_sentences_cover_paragraphs(built):
    _, corpus = built
    for f in corpus.files:
        last_end = 0.0
        for i, p in enumerate(f.paragraphs):
            assert p.index == i
            assert last_end < p.start < p.end <= f.duration
            last_end = p.end
            previous = p.start
            for start, end, text in p.sentences:
                assert previous <= start < end <= p.end  # ordered, inside, not overlapping
                assert text == text.strip() and text in p.text
                previous = end
            assert p.sentences[0][0] == p.start and p.sentences[-1][1] == p.end
            assert _norm(" ".join(s[2] for s in p.sentences)) == _norm(p.text)


def test_audio_matches_recorded_times(built):
    _, corpus = built
    for f in corpus.files:
        samples = decode_audio(f.path).samples
        assert abs(samples.size / SR - f.duration) < 0.1

        def rms(start: float, end: float) -> float:
            return float(np.sqrt(np.mean(samples[int(start * SR) : int(end * SR)] ** 2)))

        for before, after in zip(f.paragraphs, f.paragraphs[1:]):
            assert after.start - before.end == pytest.approx(1.0, abs=0.01)
            assert rms(before.end + 0.05, after.start - 0.05) < 1e-3  # silence between paragraphs
        for p in f.paragraphs:
            for start, end, _ in p.sentences:
                assert rms(start, end) > 0.02  # speech inside every sentence
                assert rms(start, min(start + 0.3, end)) > 0.005  # starting at its start


def test_questions_parallel_across_languages(sx, built):
    _, corpus = built
    ids = [q.id for q in corpus.questions]
    assert len(ids) == len(set(ids)) > 0
    for lang in LANGUAGES:
        data = json.loads((sx.XQUAD_DIR / f"xquad.{lang}.json").read_text(encoding="utf-8"))
        article = data["data"][0]
        paragraphs = enumerate(article["paragraphs"])
        expected = [(qa["id"], p) for p, para in paragraphs for qa in para["qas"]]
        assert [(q.id, q.paragraph) for q in corpus.questions] == expected
    for q in corpus.questions:
        assert q.article == 0
        assert all(q.question[lang] and q.answers[lang] for lang in LANGUAGES)
        assert q.question["en"] != q.question["es"]


def test_second_build_is_a_noop(sx, built):
    root, corpus = built
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    started = time.perf_counter()
    again = sx.build(languages=LANGUAGES, articles=1, root=root, workers=2, progress=False)
    assert time.perf_counter() - started < 3.0
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
    assert after == before
    assert again.files == corpus.files


def test_subset_build_then_whole_reuses_audio(sx, built):
    root, corpus = built
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*.ogg")}
    subset = sx.build(languages=("es",), articles=1, root=root, workers=2, progress=False)
    assert [f.language for f in subset.files] == ["es"]
    assert set(subset.questions[0].question) == {"es"}
    again = sx.build(languages=LANGUAGES, articles=1, root=root, workers=2, progress=False)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.ogg")} == before
    assert again.files == corpus.files and again.questions == corpus.questions


def test_cache_key_notices_changes(sx, built):
    root, _ = built
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["files"][0]
    job = {
        "path": entry["path"],
        "language": entry["language"],
        "article": entry["article"],
        "text_hash": entry["synthesis"]["text_hash"],
        "settings": sx.synthesis_settings(entry["language"], 175),
    }
    assert sx.is_built(entry, job, root)
    assert not sx.is_built(entry, {**job, "text_hash": "0" * 16}, root)
    assert not sx.is_built(entry, {**job, "settings": sx.synthesis_settings(entry["language"], 160)}, root)


def test_split_sentences(sx):
    text = (
        "Tesla starb am 7. Januar 1943.  Seine Arbeit geriet im 20. Jahrhundert in "
        "Vergessenheit. Ende"
    )
    spans = sx.split_sentences(text, "de")
    assert [text[a:b] for a, b in spans] == [
        "Tesla starb am 7. Januar 1943.",
        "Seine Arbeit geriet im 20. Jahrhundert in Vergessenheit.",
        "Ende",
    ]
    es = "Tiene 600 RPM en EE. UU. con 60 Hz. ¡Por supuesto!"
    assert [es[a:b] for a, b in sx.split_sentences(es, "es")] == [
        "Tiene 600 RPM en EE. UU. con 60 Hz.",
        "¡Por supuesto!",
    ]
    assert sx.slugify("Sky_(United_Kingdom)") == "sky-united-kingdom"
    assert sx.slugify("Fresno,_California") == "fresno-california"


def test_rebuild_gives_the_same_bytes(sx, built, tmp_path):
    """A fixed Ogg serial number: a fresh build of the same text is the same file, byte for byte."""
    import hashlib

    root, corpus = built
    again = sx.build(languages=("en",), articles=1, root=tmp_path, workers=1, progress=False)
    (first,) = [f for f in corpus.files if f.language == "en"]
    (second,) = again.files
    assert hashlib.sha256(second.path.read_bytes()).hexdigest() == hashlib.sha256(first.path.read_bytes()).hexdigest()


def test_built_files_match_the_shipped_transcripts(built):
    """The transcripts in benchmarks/transcripts/ are keyed by the audio, so a fresh build of the
    corpus finds them (no ASR pass), whatever the container's serial numbers were."""
    sys.path.insert(0, str(MODULE.parent))  # retrieval_corpus imports benchmarks/core
    try:
        import retrieval_corpus
    finally:
        sys.path.remove(str(MODULE.parent))

    root, corpus = built
    version = retrieval_corpus.transcriber_version()
    for f in corpus.files:
        # by the audio; where another CPU's Opus encoder made other packets, by file and length
        path = retrieval_corpus.cache_path_for(f, retrieval_corpus.audio_sha256(f.path), "transcribe", version)
        assert retrieval_corpus.shipped_path(path).is_file(), f.path
    # a file of another length is not given another's transcript
    longer = dataclasses.replace(corpus.files[0], duration=corpus.files[0].duration + 1.0)
    assert retrieval_corpus.shipped_for(longer, "transcribe", version) is None
