"""The chat page shows answers, passages, documents and file names as text, never as Markdown or
HTML: an image in an added document or in an answer must not make the browser fetch a URL.

Driven with Streamlit's AppTest over a real index (tiny.en, multilingual e5), as test_app.py.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the app extra is not installed: pip install 'mediarag[app]'")

from streamlit.testing.v1 import AppTest  # noqa: E402

from mediarag import MediaQA, Settings  # noqa: E402
from mediarag.app import AppConfig  # noqa: E402
from mediarag.app.config import CONFIG_ENV  # noqa: E402

PAGE = Path(__file__).parent.parent / "mediarag" / "app" / "page.py"
IMAGE = "![x](http://example.invalid/a.png)"
TAG = '<img src="http://example.invalid/b.png">'
#: A recording indexed under a name that is Markdown and HTML.
ODD_NAME = "![y](x.png) <b>speech [z](www.example.invalid).flac"


@pytest.fixture(scope="module")
def index(tmp_path_factory, data_dir, tiny_en, e5) -> Path:
    root = tmp_path_factory.mktemp("hostile-page")
    shutil.copyfile(data_dir / "jfk.flac", root / ODD_NAME)
    path = root / "index"
    assert MediaQA(path, transcriber=tiny_en, embedder=e5).ingest([root / ODD_NAME]).ok
    return path


def page(monkeypatch, index: Path, data: Path) -> AppTest:
    app = AppConfig(settings=Settings(index_dir=index, whisper_model="tiny.en"), data_dir=data)
    monkeypatch.setenv(CONFIG_ENV, app.to_env()[CONFIG_ENV])
    at = AppTest.from_file(str(PAGE), default_timeout=300)
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def rendered_as_markdown(at: AppTest) -> list[str]:
    """Every string the page hands to an element that renders Markdown (or labels that do)."""
    kinds = ("markdown", "caption", "error", "warning", "info", "success")
    values = [e.value for kind in kinds for e in getattr(at, kind)]
    values += [e.label for e in at.expander] + [e.label for e in at.status]
    return values


def assert_nothing_renders(at: AppTest) -> None:
    """No image, link, autolink or HTML tag left unescaped in what renders Markdown."""
    for value in rendered_as_markdown(at):
        assert "![" not in value and "](" not in value, value
        assert not re.search(r"(?<!\\)<(img|b)\b", value), value
        # Autolinks come from the text itself, escapes or not: a word joiner breaks them.
        assert not re.search(r"(?i)\w://|www\.|\w@", value), value
    assert not at.get("imgs"), "an image element is on the page"


def test_an_image_in_an_added_document_and_the_answer_stays_text(monkeypatch, index, tmp_path):
    at = page(monkeypatch, index, tmp_path)
    notes = f"The launch review is on Friday {IMAGE} {TAG} in room 4B.\n".encode()
    at.sidebar.file_uploader(key="conversation_upload").upload("notes.md", notes, "text/markdown").run()
    assert not at.exception and not at.error
    at.sidebar.toggle(key="use_kb").set_value(False).run()
    at.chat_input[0].set_value("When is the launch review?").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    answer = at.session_state["turns"][0]["answer"]
    assert answer.grounded and IMAGE in answer.text and TAG in answer.text  # the quote is exact
    texts = [t.value for t in at.text]
    assert answer.text in texts  # the streamed answer, as plain text
    assert answer.citations[0].text in texts  # its passage
    assert "**[1] notes.md**" in [m.value for m in at.markdown]
    assert_nothing_renders(at)
    # The document's own text, in the sidebar, is plain too.
    assert any(IMAGE in t.value for t in at.sidebar.text)
    # On the next run the answer is drawn from the history: still text.
    at.run()
    assert answer.text in [t.value for t in at.text]
    assert_nothing_renders(at)


def test_a_file_name_made_of_markdown_is_shown_as_it_is(monkeypatch, index, tmp_path):
    at = page(monkeypatch, index, tmp_path)
    at.chat_input[0].set_value("What did Kennedy ask his fellow Americans to do?").run()
    assert not at.exception and not at.error
    answer = at.session_state["turns"][0]["answer"]
    assert answer.citations and Path(answer.citations[0].source).name == ODD_NAME
    assert "ask not what your country" in answer.text
    [label] = [m.value for m in at.markdown if m.value.startswith("**[1] ")]
    # Escaped: the browser shows the name itself, with no image, link or bold in it.
    escaped = r"\!\[y\]\(x.png\) \<b\>speech \[z\]\(www" + "\u2060" + r".example.invalid\).flac"
    assert label == f"**[1] {escaped} · 00:00-00:10**"
    assert_nothing_renders(at)
    at.sidebar.radio[0].set_value("Library").run()
    assert list(at.dataframe[0].value["File"]) == [ODD_NAME]  # a table cell is text already
    assert_nothing_renders(at)
