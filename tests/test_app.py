"""The chat app's page, run by Streamlit's AppTest over a real index (tiny.en, multilingual e5).

AppTest runs the page script in this process with real widgets state; the browser itself is
exercised in test_app_browser.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the app extra is not installed: pip install 'mediarag[app]'")

from streamlit.testing.v1 import AppTest  # noqa: E402

from mediarag import MediaQA, Settings  # noqa: E402
from mediarag.app import AppConfig  # noqa: E402
from mediarag.app.config import CONFIG_ENV  # noqa: E402
from mediarag.export import export  # noqa: E402
from mediarag.links import clock  # noqa: E402

PAGE = Path(__file__).parent.parent / "mediarag" / "app" / "page.py"
BYRON = "Which town was made famous by Lord Byron?"
#: Answered by the last clip of fleurs_en_concat.ogg, 91 s into the file.
OBSERVATORIES = "Where are old observatories usually located?"


@pytest.fixture(scope="module")
def index(tmp_path_factory, data_dir, tiny_en, e5) -> Path:
    path = tmp_path_factory.mktemp("app-index")
    report = MediaQA(path, transcriber=tiny_en, embedder=e5).ingest(
        [data_dir / "jfk.flac", data_dir / "fleurs_en_concat.ogg"]
    )
    assert report.ok and len(report.ingested) == 2
    return path


def page(monkeypatch, index: Path, data: Path, **config) -> AppTest:
    """The page over ``index`` (tiny.en for uploads), storing uploads under ``data``."""
    app = AppConfig(settings=Settings(index_dir=index, whisper_model="tiny.en"), data_dir=data, **config)
    monkeypatch.setenv(CONFIG_ENV, app.to_env()[CONFIG_ENV])
    at = AppTest.from_file(str(PAGE), default_timeout=300)
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_answer_streams_cites_file_and_seconds_and_plays_from_there(monkeypatch, index, tmp_path):
    at = page(monkeypatch, index, tmp_path)
    at.chat_input[0].set_value(OBSERVATORIES).run()
    assert not at.exception and not errors(at)
    answer = at.session_state["turns"][0]["answer"]
    assert "cities" in answer.text.lower() and answer.grounded
    cited = answer.citations[0]
    assert cited.source.endswith("fleurs_en_concat.ogg") and 85 < cited.start < 95
    label = f"**[1] fleurs_en_concat.ogg · {clock(cited.start)}-{clock(cited.end)}**"
    assert label in markdown(at)
    assert cited.text in [t.value for t in at.text]  # plain text: no Markdown, no links
    assert not at.get("audio")  # no player until a source is chosen

    at.button(key="play-0-1").click().run()
    players = at.get("audio")
    assert len(players) == 1
    assert players[0].proto.start_time == int(cited.start)
    assert players[0].proto.autoplay
    # The history stays, and asking again adds a turn.
    at.chat_input[0].set_value("What did Kennedy ask his fellow Americans to do?").run()
    assert len(at.session_state["turns"]) == 2 and len(at.get("audio")) == 1
    assert any(m.startswith("**[") and m.endswith("] jfk.flac · 00:00-00:10**") for m in markdown(at))


def test_uploaded_media_is_transcribed_into_the_conversation_only(monkeypatch, index, tmp_path, data_dir):
    at = page(monkeypatch, index, tmp_path)
    audio = (data_dir / "jfk.flac").read_bytes()
    at.sidebar.file_uploader(key="conversation_upload").upload("../../My talk (final).flac", audio, "audio/flac").run()
    assert not at.exception and not errors(at)
    # Transcription showed its progress, ending at the file's duration.
    [bar] = at.sidebar.get("progress")
    assert bar.value == 100 and bar.text == "00:11 of 00:11"
    [status] = at.sidebar.status
    assert status.label == "Added My_talk_final.flac: 1 passages" and status.state == "complete"
    chat = at.session_state["chat"]
    [attached] = chat.files
    stored = Path(attached.source)
    # Stored under the data directory with a generated name; nothing else written.
    assert stored.parent == (tmp_path / "uploads").resolve()
    assert stored.name.endswith("_My_talk_final.flac") and stored.read_bytes() == audio
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [stored.name]
    # The transcript is shown and can be downloaded as SRT and VTT.
    assert any("[00:00] And so my fellow Americans" in t.value for t in at.sidebar.text_area)
    labels = [b.label for b in at.sidebar.get("download_button")]
    assert labels == ["Download .srt", "Download .vtt"]
    srt = export(attached.transcript, "srt")
    assert srt.startswith("1\n00:00:00,000 --> ") and "ask not what your country" in srt
    assert export(attached.transcript, "vtt").startswith("WEBVTT")
    # Answers cite the uploaded file under its stored name, less the generated prefix; the
    # index is unchanged.
    at.sidebar.toggle(key="use_kb").set_value(False).run()
    at.chat_input[0].set_value("What did Kennedy ask his fellow Americans to do?").run()
    answer = at.session_state["turns"][0]["answer"]
    assert answer.citations and answer.citations[0].source == attached.source
    assert "**[1] My_talk_final.flac · 00:00-00:10**" in markdown(at)
    assert sorted(Path(s).name for s in MediaQA(index).store.sources()) == ["fleurs_en_concat.ogg", "jfk.flac"]


def test_knowledge_base_off_answers_from_added_files_only(monkeypatch, index, tmp_path):
    at = page(monkeypatch, index, tmp_path)
    notes = b"The quarterly budget review takes place on the first Monday of March in room 4B.\n"
    at.sidebar.file_uploader(key="conversation_upload").upload("notes.txt", notes, "text/plain").run()
    at.sidebar.toggle(key="use_kb").set_value(False).run()
    at.chat_input[0].set_value(BYRON).run()
    first = at.session_state["turns"][0]["answer"]
    assert not first.grounded and "files added to this conversation" in first.text  # the index is off
    at.chat_input[0].set_value("When is the quarterly budget review?").run()
    second = at.session_state["turns"][1]["answer"]
    assert second.grounded and "first Monday of March" in second.text
    assert "**[1] notes.txt**" in markdown(at)
    assert all(b.key != "play-1-1" for b in at.button)  # a text document has no player
    # Back on, the index answers again.
    at.sidebar.toggle(key="use_kb").set_value(True).run()
    at.chat_input[0].set_value(BYRON).run()
    assert at.session_state["turns"][2]["answer"].citations[0].source.endswith("fleurs_en_concat.ogg")
    # A new conversation forgets the turns and the added files.
    at.sidebar.button(key="new_chat").click().run()
    assert not at.exception and at.session_state["turns"] == [] and at.session_state["chat"].files == []
    assert not at.chat_message and not at.sidebar.expander[1:]


def test_bad_uploads_get_a_message_and_the_good_ones_still_go_in(monkeypatch, index, tmp_path):
    at = page(monkeypatch, index, tmp_path, max_upload_mb=1)
    uploader = at.sidebar.file_uploader(key="conversation_upload")
    uploader.set_value(
        [
            ("../../etc/broken.mp3", b"this is not audio at all" * 100, "audio/mpeg"),
            ("big.txt", b"word " * 300_000, "text/plain"),
            ("agenda.md", b"# Agenda\n\nThe launch review is on Friday.\n", "text/markdown"),
        ]
    ).run()
    assert not at.exception
    problems = errors(at)
    assert len(problems) == 2, problems
    assert "broken.mp3" in problems[0]
    assert "big.txt" in problems[1] and "upload limit of 1 MB" in problems[1]
    assert "Traceback" not in " ".join(problems)
    chat = at.session_state["chat"]
    assert [Path(f.source).name.split("_", 1)[1] for f in chat.files] == ["agenda.md"]
    # The failed uploads left nothing behind, and nothing was written outside the data directory.
    assert [p.name.split("_", 1)[1] for p in (tmp_path / "uploads").iterdir()] == ["agenda.md"]
    assert not (tmp_path.parent / "etc").exists()


def test_library_lists_indexed_files_and_ingests_uploads(monkeypatch, index, tmp_path, data_dir):
    own_index = tmp_path / "index"
    shutil.copytree(index, own_index)
    at = page(monkeypatch, own_index, tmp_path / "data")
    at.sidebar.radio[0].set_value("Library").run()
    table = at.dataframe[0].value
    assert list(table["File"]) == ["fleurs_en_concat.ogg", "jfk.flac"]
    assert list(table["Duration"])[1] == "00:11"
    assert list(table["Language"]) == ["en", "en"] and all(table["Passages"] >= 1)
    # Transcript of an indexed file, downloadable.
    at.selectbox(key="library_transcript").select_index(1).run()
    assert "ask not what your country" in at.text_area(key="text-library").value
    # Ingest a video and a broken file from the UI: the video is indexed, the other reported.
    video = (data_dir / "librivox_en_speech.mp4").read_bytes()
    uploader = at.file_uploader(key="library_upload_0")
    uploader.set_value([("lecture.mp4", video, "video/mp4"), ("broken.wav", b"RIFF nothing", "audio/wav")]).run()
    at.button(key="ingest").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Indexed lecture.mp4"]
    [problem] = errors(at)
    assert problem.startswith("Not indexed: broken.wav: ") and str(tmp_path) not in problem
    table = at.dataframe[0].value
    assert list(table["File"]) == ["fleurs_en_concat.ogg", "jfk.flac", "lecture.mp4"]
    # The stored video is in the library folder under a generated name; the broken file is gone.
    assert [p.name.split("_", 1)[1] for p in (tmp_path / "data" / "library").iterdir()] == ["lecture.mp4"]
    # The same content again is not indexed twice.
    at.file_uploader(key="library_upload_1").set_value(("copy of lecture.mp4", video, "video/mp4")).run()
    at.button(key="ingest").click().run()
    assert [i.value for i in at.info] == ["copy_of_lecture.mp4 is already in the library as lecture.mp4"]
    assert len(at.dataframe[0].value) == 3 and len(list((tmp_path / "data" / "library").iterdir())) == 1
    # A question about it plays the video from the cited second.
    at.sidebar.radio[0].set_value("Chat").run()
    at.chat_input[0].set_value("Who had leisure to consider how much might be in his power to do?").run()
    answer = at.session_state["turns"][0]["answer"]
    assert answer.citations, answer
    n = next(i for i, c in enumerate(answer.citations, 1) if c.source.endswith("_lecture.mp4"))
    at.button(key=f"play-0-{n}").click().run()
    [video_player] = at.get("video")
    assert video_player.proto.start_time == int(answer.citations[n - 1].start)
    # The video carries its transcript as subtitles.
    [track] = video_player.proto.subtitles
    assert track.label == "Transcript"


def test_generator_is_chosen_in_the_ui_and_its_errors_are_messages(monkeypatch, index, tmp_path):
    pytest.importorskip("llama_cpp", reason="the endpoint is served by the llm extra's model")
    from llm_support import API_KEY, ChatHandler, chat_server

    monkeypatch.delenv("OPENAI_MODEL", raising=False)
    at = page(monkeypatch, index, tmp_path)
    with chat_server() as url:
        # A wrong key: the endpoint refuses, and the page says so.
        at.sidebar.selectbox(key="gen_kind").select("openai").run()
        at.sidebar.text_input(key="gen_url").input(f"{url}/v1")
        at.sidebar.text_input(key="gen_openai_model").input("qwen2.5-coder-0.5b")
        at.sidebar.text_input(key="gen_key").input("sk-wrong")
        at.sidebar.button(key="gen_apply").click().run()
        assert [s.value for s in at.sidebar.success] == [f"Answers now come from qwen2.5-coder-0.5b at {url}/v1."]
        at.chat_input[0].set_value(OBSERVATORIES).run()
        assert not at.exception
        [problem] = errors(at)
        assert problem.startswith("Answering: ") and "HTTP 401" in problem and "Incorrect API key" in problem
        # The right key: the model behind the endpoint answers, with the same citations.
        at.sidebar.text_input(key="gen_key").input(API_KEY)
        at.sidebar.button(key="gen_apply").click().run()
        at.chat_input[0].set_value(OBSERVATORIES).run()
        assert not at.exception and not errors(at)
        answer = at.session_state["turns"][-1]["answer"]
        assert ChatHandler.requests[-1]["body"]["stream"] is True
        assert answer.grounded and answer.citations[0].source.endswith("fleurs_en_concat.ogg")
        assert "cit" in answer.text.lower() or "campus" in answer.text.lower(), answer.text
    # A generator that cannot be built is a message too, and the previous one stays.
    at.sidebar.selectbox(key="gen_kind").select("local").run()
    at.sidebar.text_input(key="gen_local_model").input("no-such-model.gguf")
    at.sidebar.button(key="gen_apply").click().run()
    assert not at.exception
    [problem] = errors(at)
    assert problem.startswith("Changing the generator: ") and "no-such-model.gguf" in problem
    assert at.session_state["choice"].kind == "openai"
