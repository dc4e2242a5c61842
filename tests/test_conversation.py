"""Conversations: follow-ups, bounded memory, save and restore, files added to the chat only."""

from __future__ import annotations

import json
import shutil

import pytest

from llm_support import media_index
from mediarag import Conversation, MediaQA, Settings


@pytest.fixture(scope="module")
def index(tiny_en, embedder):
    return media_index(tiny_en, embedder)


@pytest.fixture()
def qa(index, tiny_en, embedder):
    # Conversation mechanics are under test, not the threshold: a floor below MiniLM's measured
    # default keeps the passages these questions need, and still rejects a bare "Who praised it?".
    settings = Settings(min_score=0.2)
    return MediaQA(index, settings=settings, transcriber=tiny_en, embedder=embedder)  # extractive generator


NOTES = """Project Falcon status notes.

The budget for the pilot is forty thousand euros, approved by Maria Lopez in May.

The pilot starts in the Lisbon office on the third of June. Training for the staff takes two days.
"""


def test_follow_up_is_made_standalone_before_retrieval(qa, clip_spans):
    chat = qa.conversation()
    first = chat.ask("Which town was made famous by Lord Byron?")
    assert first.grounded and "sintra" in first.text.lower()
    assert first.standalone_question == "Which town was made famous by Lord Byron?"
    follow = chat.ask("Who praised it?")
    assert "Lord Byron" in follow.standalone_question
    clip = clip_spans["fleurs_en_concat.ogg"][2]
    top = follow.citations[0]
    assert top.source.endswith("fleurs_en_concat.ogg")
    assert min(top.end, clip["end_s"]) > max(top.start, clip["start_s"])
    # Without the rewrite the bare follow-up finds nothing above the minimum score.
    assert qa.search("Who praised it?", k=1) == []


def test_memory_is_bounded_and_survives_save_and_load(qa, tmp_path):
    chat = qa.conversation(memory_turns=2)
    for question in ("What did Kennedy ask?", "Which town did Lord Byron praise?", "What does cabbage juice do?"):
        chat.ask(question)
    assert [m.role for m in chat.messages] == ["user", "assistant"] * 2
    assert chat.messages[0].content == "Which town did Lord Byron praise?"
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES)
    chat.add_file(notes)
    chat.use_knowledge_base = False
    saved = tmp_path / "chat.json"
    chat.save(saved)
    data = json.loads(saved.read_text())
    assert data["memory_turns"] == 2 and data["use_knowledge_base"] is False
    assert len(data["messages"]) == 4 and data["files"][0]["kind"] == "text"

    again = Conversation.load(saved, qa)
    assert again.messages == chat.messages and again.files == chat.files
    answer = again.ask("How much is the budget for the pilot?")
    assert answer.grounded and "forty thousand euros" in answer.text
    assert len(again.messages) == 4 and again.messages[-2].content == "How much is the budget for the pilot?"


def test_text_file_is_searched_but_never_indexed(qa, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(NOTES)
    before = set(qa.sources())
    chat = qa.conversation(use_knowledge_base=False)
    attached = chat.add_file(notes)
    assert attached.kind == "text" and len(attached.chunks) >= 1
    assert set(qa.sources()) == before  # the index is untouched
    answer = chat.ask("Where does the pilot start?")
    assert answer.grounded and "Lisbon" in answer.text
    citation = answer.citations[0]
    assert citation.source == str(notes.resolve()) and citation.link == notes.resolve().as_uri()
    # Knowledge base off: the index is not searched even for what only it holds.
    off = chat.ask("What did Kennedy ask his fellow Americans to do?")
    assert all(c.source == str(notes.resolve()) for c in off.citations)
    chat.use_knowledge_base = True
    on = chat.ask("What did Kennedy ask his fellow Americans to do?")
    assert on.grounded and on.citations[0].source.endswith("jfk.flac")


def test_media_file_is_transcribed_and_cited_with_times(tmp_path, tiny_en, embedder, data_dir):
    empty = MediaQA(tmp_path / "empty-index", transcriber=tiny_en, embedder=embedder)
    chat = empty.conversation(use_knowledge_base=False)
    clip = tmp_path / "speech.flac"
    shutil.copy(data_dir / "jfk.flac", clip)
    attached = chat.add_file(clip)
    assert attached.kind == "media" and attached.language == "en"
    assert attached.duration == pytest.approx(11.0, abs=0.2)
    answer = chat.ask("What did Kennedy ask his fellow Americans to do?")
    assert answer.grounded
    citation = answer.citations[0]
    assert citation.source == str(clip.resolve()) and citation.end > citation.start
    moment = citation.moment
    assert citation.start <= moment.start < moment.end <= citation.end
    assert citation.link == f"{clip.resolve().as_uri()}#t={moment.start:.1f},{moment.end:.1f}"
    assert empty.sources() == {}
    nothing = chat.ask("What is the capital of Mongolia?")
    assert not nothing.grounded and "files added to this conversation" in nothing.text
    assert chat.remove_file(clip) and chat.files == []


def test_no_files_and_knowledge_base_off_answers_without_searching(qa):
    chat = qa.conversation(use_knowledge_base=False)
    answer = chat.ask("What did Kennedy ask his fellow Americans to do?")
    assert not answer.grounded and answer.citations == []


def test_settings_memory_default(index, tiny_en, embedder):
    qa = MediaQA(settings=Settings(index_dir=index, memory_turns=1), transcriber=tiny_en, embedder=embedder)
    chat = qa.conversation()
    chat.ask("What did Kennedy ask?")
    chat.ask("Which town did Lord Byron praise?")
    assert len(chat.messages) == 2 and chat.state.memory_turns == 1
