"""The chat app's page (Streamlit). Start it with ``mediarag app --index DIR``; see docs/app.md.

The page reads its configuration from ``$MEDIARAG_APP_CONFIG`` (`AppConfig.to_env`). Every
action that can fail shows its error as a message; no traceback reaches the browser.

Text that comes from media, documents, models or file names is shown as plain text (`st.text`,
`st.text_area`), or escaped with `_literal` where Streamlit renders Markdown (labels, messages):
an image or a link inside an answer would make the browser fetch an outside URL, a way to send
data out. None of that text becomes a link; the players play our own media.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from mediarag.app.config import AppConfig
from mediarag.app.engine import (
    GENERATOR_LABELS,
    Engine,
    GeneratorChoice,
    citation_label,
    play_start,
    player_for,
    thumbnail,
)
from mediarag.app.uploads import CONVERSATION_EXTENSIONS, LIBRARY_EXTENSIONS, display_name, store_upload
from mediarag.errors import MediaRagError
from mediarag.export import export
from mediarag.links import clock, is_text_source, is_url
from mediarag.schema import Answer, Citation

log = logging.getLogger("mediarag.app")

#: Characters that make Markdown (links, images, HTML, code, math, emphasis, tables) or,
#: before a letter, a Streamlit directive such as ``:red[...]``.
_MARKDOWN = re.compile(r"([\\`*\[\]()<>!$|~{}#+&]|:(?=[A-Za-z]))")
#: Text the Markdown renderer turns into links by itself, whatever the escapes: URLs, www.
#: addresses and e-mail addresses. A word joiner (U+2060, invisible) inside them prevents it.
_AUTOLINK = re.compile(r"(?i)(?<=www)(?=\.)|(?=://)|(?=@)")
_JOINER = "\u2060"


def _literal(text: str) -> str:
    """``text`` for an element that renders Markdown (messages, labels), so that it shows as it
    is and makes no link, image, HTML or formatting: a backslash before each character that
    would, and a word joiner inside what would become a link on its own."""
    return _AUTOLINK.sub(_JOINER, _MARKDOWN.sub(r"\\\1", text))


@st.cache_resource(show_spinner="Loading the speech and embedding models…")
def _engine(config_json: str) -> Engine:
    engine = Engine(AppConfig.model_validate_json(config_json))
    engine.warm_up()
    return engine


@contextmanager
def reported(action: str) -> Iterator[None]:
    """Show a failure of ``action`` as an error message instead of a traceback."""
    try:
        yield
    except (MediaRagError, ValueError, OSError) as exc:
        st.error(_literal(f"{action}: {exc}"))
    except Exception as exc:  # noqa: BLE001 - the user sees a message; the log keeps the details
        log.exception("%s failed", action)
        st.error(_literal(f"{action} failed: {type(exc).__name__}: {exc}"))


def _uploader_types(extensions: frozenset[str]) -> list[str]:
    return sorted(e.lstrip(".") for e in extensions)


# Session ---------------------------------------------------------------------------------------


def _session(engine: Engine) -> Any:
    ss = st.session_state
    if "chat" not in ss:
        ss.choice = GeneratorChoice.from_settings(engine.config.settings)
        ss.chat = engine.qa(ss.choice).conversation()
        ss.turns = []  # [{"question": str, "answer": Answer}]
        ss.playing = None  # (turn, citation) whose player is shown
        ss.added = set()  # uploader file ids already added to the conversation
        ss.library_uploads = 0  # bumps the library uploader's key to clear it after ingest
        ss.ingest_report = None
    return ss


# Sidebar ---------------------------------------------------------------------------------------


def _generator_settings(engine: Engine, ss: Any) -> None:
    with st.expander("Answer generator", expanded=False):
        st.caption(f"Now: {ss.choice.describe()}")
        kinds = list(GENERATOR_LABELS)
        kind = st.selectbox(
            "Generator", kinds, index=kinds.index(ss.choice.kind), format_func=GENERATOR_LABELS.get, key="gen_kind"
        )
        fields: dict[str, Any] = {"kind": kind}
        if kind == "local":
            fields["llm_model"] = st.text_input(
                "Model", value=ss.choice.llm_model or "qwen2.5-1.5b", key="gen_local_model",
                help="qwen2.5-1.5b (packaged, default), qwen2.5-0.5b (packaged, faster), smollm2-135m, a .gguf file or a hub repository",
            )  # fmt: skip
        elif kind == "openai":
            fields["openai_base_url"] = st.text_input(
                "Base URL", value=ss.choice.openai_base_url or "", placeholder="http://localhost:11434/v1", key="gen_url"
            )
            fields["llm_model"] = st.text_input("Model", value=ss.choice.llm_model or "", key="gen_openai_model")
            fields["openai_api_key"] = st.text_input("API key", type="password", key="gen_key") or None
        elif kind == "sagemaker":
            fields["generator_endpoint"] = st.text_input(
                "Endpoint name", value=ss.choice.generator_endpoint or "", key="gen_endpoint"
            )
            fields["aws_region"] = st.text_input("AWS region", value=ss.choice.aws_region or "", key="gen_region")
        if st.button("Apply", key="gen_apply"):
            with reported("Changing the generator"), st.spinner("Preparing the generator…"):
                choice = GeneratorChoice(**{k: (v or None) if k != "kind" else v for k, v in fields.items()})
                ss.chat.answerer = engine.answerer(choice)
                ss.choice = choice
                st.success(f"Answers now come from {choice.describe()}.")


def _speaker_filter(engine: Engine, ss: Any) -> None:
    """Answer from what one speaker says (None: everyone); the choice is ``ss.speaker``, the
    widget's own state."""
    with reported("Reading the speakers"):
        names = engine.speakers()
        if names:
            st.selectbox(
                "Speaker", [None, *names], format_func=lambda n: "Everyone" if n is None else n, key="speaker",
                help="Answer only from passages in which this speaker says something.",
            )  # fmt: skip


def _add_to_conversation(engine: Engine, ss: Any) -> None:
    uploads = st.file_uploader(
        "Add text, audio or video to this conversation",
        type=_uploader_types(CONVERSATION_EXTENSIONS),
        accept_multiple_files=True,
        key="conversation_upload",
        max_upload_size=engine.config.max_upload_mb,
    )
    for upload in uploads or []:
        if upload.file_id in ss.added:
            continue
        ss.added.add(upload.file_id)
        with reported(f"Adding {upload.name}"):
            stored = store_upload(
                engine.config.uploads_dir, upload.name, upload, max_bytes=engine.config.max_upload_bytes
            )
            name = display_name(str(stored))
            doing = "Reading" if is_text_source(name) else "Transcribing"
            with st.status(_literal(f"{doing} {name}…"), expanded=True) as status:
                bar = st.progress(0.0, text="starting")

                def advance(_source: str, done: float, total: float) -> None:
                    bar.progress(min(done / total, 1.0) if total else 1.0, text=f"{clock(done)} of {clock(total)}")

                try:
                    attached = ss.chat.add_file(stored, progress=advance)
                except BaseException as exc:
                    stored.unlink(missing_ok=True)
                    if not isinstance(exc, Exception):  # Streamlit stopped this run: retry on the next
                        ss.added.discard(upload.file_id)
                    status.update(label=_literal(f"Could not add {name}"), state="error")
                    raise
                done = _literal(f"Added {name}: {len(attached.chunks)} passages")
                status.update(label=done, state="complete")


def _conversation_files(ss: Any) -> None:
    for attached in ss.chat.files:
        name = display_name(attached.source)
        about = "text" if attached.kind == "text" else f"{clock(attached.duration or 0)} · {attached.language}"
        with st.expander(_literal(f"{name} · {about}")):
            if attached.transcript is not None:
                _transcript_view(
                    attached.source,
                    "\n".join(
                        f"[{clock(s.start)}] {s.speaker + ': ' if s.speaker else ''}{s.text}"
                        for s in attached.transcript.segments
                    ),
                    lambda fmt, t=attached.transcript: export(t, fmt),
                    key=f"conv-{attached.sha256[:12]}",
                )
            else:
                st.text(" ".join(c.text for c in attached.chunks)[:2000])
            if st.button("Remove from the conversation", key=f"remove-{attached.sha256[:12]}"):
                ss.chat.remove_file(attached.source)
                st.rerun()


def _transcript_view(source: str, text: str, render: Any, *, key: str) -> None:
    st.text_area("Transcript", text, height=200, disabled=True, key=f"text-{key}")
    stem = Path(display_name(source)).stem
    left, right = st.columns(2)
    for column, fmt, mime in ((left, "srt", "application/x-subrip"), (right, "vtt", "text/vtt")):
        column.download_button(
            f"Download .{fmt}", render(fmt), file_name=f"{stem}.{fmt}", mime=mime, key=f"dl-{fmt}-{key}"
        )


def sidebar(engine: Engine, ss: Any) -> str:
    with st.sidebar:
        st.title("mediarag")
        view = st.radio("View", ["Chat", "Library"], horizontal=True, key="view", label_visibility="collapsed")
        ss.chat.use_knowledge_base = st.toggle(
            "Use knowledge base",
            value=ss.chat.use_knowledge_base,
            key="use_kb",
            help="On: answers come from the indexed library and this conversation's files. "
            "Off: from this conversation's files only.",
        )
        _generator_settings(engine, ss)
        _speaker_filter(engine, ss)
        st.subheader("This conversation")
        _add_to_conversation(engine, ss)
        _conversation_files(ss)
        if st.button("New conversation", key="new_chat"):
            for name in ("chat", "turns", "playing", "added"):
                ss.pop(name, None)
            ss.pop("conversation_upload", None)
            st.rerun()
    return view


# Chat ------------------------------------------------------------------------------------------


def _subtitles(engine: Engine, ss: Any, source: str) -> bytes | None:
    """The WebVTT transcript of a video source: from this conversation's files or the index."""
    for attached in ss.chat.files:
        if attached.source == source and attached.transcript is not None:
            return export(attached.transcript, "vtt").encode("utf-8")
    try:
        return engine.transcript_export(source, "vtt").encode("utf-8")
    except MediaRagError:
        return None


def _player(engine: Engine, ss: Any, citation: Citation) -> None:
    player = player_for(citation.source)
    if player is None:
        st.caption("This source cannot be played here.")
        return
    if not is_url(citation.source) and not Path(citation.source).is_file():
        st.error(_literal(f"{display_name(citation.source)} is no longer at {citation.source}"))
        return
    start = play_start(citation)
    with reported(f"Playing {display_name(citation.source)}"):
        if player.kind == "video":
            vtt = _subtitles(engine, ss, citation.source)
            subtitles = {"Transcript": vtt} if vtt else None
            st.video(citation.source, format=player.mime, start_time=start, autoplay=True, subtitles=subtitles)
        else:
            st.audio(citation.source, format=player.mime, start_time=start, autoplay=True)


@st.cache_data(show_spinner=False, max_entries=256)
def _thumbnail(citation: Citation) -> Any:
    """The frame beside a screen citation (None when there is none to show)."""
    try:
        return thumbnail(citation)
    except MediaRagError as exc:
        log.warning("no thumbnail for %s: %s", citation.source, exc)
        return None


def _sources(engine: Engine, turn: int, answer: Answer, ss: Any) -> None:
    if not answer.citations:
        return
    st.markdown("**Sources**")
    for n, citation in enumerate(answer.citations, start=1):
        with st.container(border=True):
            picture = _thumbnail(citation)
            if picture is None:
                text, button = st.columns([5, 1])
            else:
                shown, text, button = st.columns([2, 4, 1])
                shown.image(picture, caption="on screen")
            text.markdown(f"**[{n}] {_literal(citation_label(citation))}**")
            text.text(citation.text)
            if player_for(citation.source) is not None and button.button(
                f"▶ {clock(play_start(citation))}", key=f"play-{turn}-{n}", help="Play from this moment"
            ):
                ss.playing = (turn, n)
            if ss.playing == (turn, n):
                _player(engine, ss, citation)


def chat_view(engine: Engine, ss: Any) -> None:
    if not ss.turns:
        where = "the library and the files you add" if ss.chat.use_knowledge_base else "the files you add"
        st.info(f"Ask a question about {where}. Each answer cites the file and the moment it comes from.")
    for turn, item in enumerate(ss.turns):
        with st.chat_message("user"):
            st.text(item["question"])
        with st.chat_message("assistant"):
            st.text(item["answer"].text)
            _sources(engine, turn, item["answer"], ss)
    question = st.chat_input("Ask about your media")
    if not question:
        return
    with st.chat_message("user"):
        st.text(question)
    with st.chat_message("assistant"), reported("Answering"):
        reply = ss.chat.ask_stream(question, speaker=ss.get("speaker"))
        shown, written = st.empty(), ""
        with engine.answering(ss.choice):
            for piece in reply:  # as plain text: st.write_stream would render Markdown
                written += piece
                shown.text(written)
        answer = reply.answer
        if answer.fallback:
            st.caption(_literal(f"{answer.fallback}; the passages say:"))
        shown.text(answer.text)
        ss.turns.append({"question": question, "answer": answer})
        _sources(engine, len(ss.turns) - 1, answer, ss)


# Library ---------------------------------------------------------------------------------------


def _ingest(engine: Engine, ss: Any) -> None:
    st.subheader("Add to the library")
    uploads = st.file_uploader(
        "Audio or video files",
        type=_uploader_types(LIBRARY_EXTENSIONS),
        accept_multiple_files=True,
        key=f"library_upload_{ss.library_uploads}",
        max_upload_size=engine.config.max_upload_mb,
    )
    if not st.button("Ingest", disabled=not uploads, key="ingest"):
        return
    stored, problems, known = [], [], []
    for upload in uploads or []:
        try:
            file = store_upload(
                engine.config.library_dir, upload.name, upload,
                max_bytes=engine.config.max_upload_bytes, extensions=LIBRARY_EXTENSIONS,
            )  # fmt: skip
        except MediaRagError as exc:
            problems.append(str(exc))
            continue
        copy = engine.indexed_copy(file)
        if copy is None:
            stored.append(file)
        else:  # the same content is already indexed: keep one copy
            file.unlink(missing_ok=True)
            known.append(f"{display_name(str(file))} is already in the library as {display_name(copy)}")
    with reported("Ingesting"), st.status(f"Ingesting {len(stored)} file(s)…", expanded=True) as status:
        bar = st.progress(0.0, text="starting")
        order: list[str] = []

        def advance(source: str, done: float, total: float) -> None:
            if source not in order:
                order.append(source)
            fraction = (len(order) - 1 + (done / total if total else 1.0)) / max(len(stored), 1)
            bar.progress(min(fraction, 1.0), text=f"{display_name(source)}: {clock(done)} of {clock(total)}")

        report = engine.ingest(stored, progress=advance) if stored else None
        done: list[str] = []
        if report is not None:
            for failure in report.failed:  # the message names the file as the user knows it
                problems.append(failure.error.replace(failure.source, display_name(failure.source)))
                Path(failure.source).unlink(missing_ok=True)
            done = [display_name(i.source) for i in report.ingested]
        status.update(label=f"Indexed {len(done)} file(s)", state="complete" if not problems else "error")
        ss.ingest_report = {"indexed": done, "known": known, "failed": problems}
        ss.library_uploads += 1
        st.rerun()  # the table shows the new files; an error above stays on screen instead


def library_view(engine: Engine, ss: Any) -> None:
    st.header("Library")
    if ss.ingest_report:
        for name in ss.ingest_report["indexed"]:
            st.success(_literal(f"Indexed {name}"))
        for note in ss.ingest_report["known"]:
            st.info(_literal(note))
        for problem in ss.ingest_report["failed"]:
            st.error(_literal(f"Not indexed: {problem}"))
        ss.ingest_report = None
    with reported("Reading the index"):
        entries = engine.library()
        if not entries:
            st.info("The index is empty: add audio or video files below.")
        else:
            st.dataframe(
                [
                    {"File": e.name, "Duration": clock(e.duration), "Language": e.language, "Passages": e.passages}
                    for e in entries
                ],
                hide_index=True,
                width="stretch",
            )
            chosen = st.selectbox(
                "Transcript of", entries, format_func=lambda e: e.name, index=None, key="library_transcript"
            )
            if chosen is not None:
                text = engine.transcript_export(chosen.source, "txt")
                _transcript_view(
                    chosen.source, text, lambda fmt: engine.transcript_export(chosen.source, fmt), key="library"
                )
    _ingest(engine, ss)


# Page ------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="mediarag", page_icon="🎬", layout="wide")
    try:
        config = AppConfig.from_env()
        engine = _engine(config.model_dump_json())
        ss = _session(engine)
    except Exception as exc:  # noqa: BLE001 - the page cannot start: say why, no traceback
        log.exception("the app could not start")
        st.error(f"The app could not start: {exc}")
        return
    view = sidebar(engine, ss)
    if view == "Library":
        library_view(engine, ss)
    else:
        chat_view(engine, ss)


main()
