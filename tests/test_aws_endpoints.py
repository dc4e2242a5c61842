"""SageMaker endpoint clients against a local sagemaker-runtime server with real models behind
each container contract (see aws_fakes.py): boto3 signs, serializes and parses for real."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from conftest import wer
from mediarag.aws.clients import AwsConfig
from mediarag.errors import ConfigError, GeneratorError, ServiceError
from mediarag.media import decode_audio
from mediarag.schema import Chunk, Hit

JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


@pytest.fixture
def config(runtime) -> AwsConfig:
    return AwsConfig(endpoint_url=runtime.url, max_attempts=4)


def hits(*texts: str) -> list[Hit]:
    return [
        Hit(chunk=Chunk(id=str(i), source=f"s3://media/{i}.mp4", start=i * 10.0, end=i * 10.0 + 5, text=t), score=0.5)
        for i, t in enumerate(texts)
    ]


# Embeddings ---------------------------------------------------------------------------------


def test_embedder_matches_the_model_behind_the_endpoint(config, runtime, embedder):
    from mediarag.embed.sagemaker import SageMakerEmbedder

    remote = SageMakerEmbedder("gpt-j-embedding", config=config, batch_size=3)
    texts = [f"sentence number {i} about rivers and mountains" for i in range(7)]
    vectors = remote.embed_passages(texts)
    assert vectors.shape == (7, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, embedder.embed_passages(texts), atol=1e-5)
    assert runtime.calls["gpt-j-embedding"] == 3  # batches of 3, 3 and 1
    assert remote.dimension == 384 and remote.name == "sagemaker:gpt-j-embedding"
    assert remote.embed_queries([]).shape == (0, 384)


def test_embedder_batches_stay_under_the_payload_limit(config, runtime):
    from mediarag.embed.sagemaker import SageMakerEmbedder

    remote = SageMakerEmbedder("gpt-j-embedding", config=config, batch_size=100, max_payload_bytes=400)
    texts = ["a fairly long sentence that takes about sixty bytes of json"] * 12
    assert remote.embed_passages(texts).shape == (12, 384)
    assert runtime.calls["gpt-j-embedding"] > 1
    assert max(len(b) for b in runtime.bodies["gpt-j-embedding"]) <= 400
    with pytest.raises(ServiceError, match="gpt-j-embedding.*too large") as info:
        remote.embed_passages(["x" * 500])
    assert info.value.reason == "too_large"


def test_endpoint_name_from_the_samples_environment_variable(config, runtime, monkeypatch):
    from mediarag.embed.sagemaker import SageMakerEmbedder

    monkeypatch.setenv("embed_ep_name", "gpt-j-embedding")
    assert SageMakerEmbedder(config=config).endpoint.name == "gpt-j-embedding"
    monkeypatch.delenv("embed_ep_name")
    with pytest.raises(ConfigError, match="embed_ep_name"):
        SageMakerEmbedder(config=config)


# Errors -------------------------------------------------------------------------------------


def test_throttling_and_5xx_are_retried_then_succeed(config, runtime):
    from mediarag.embed.sagemaker import SageMakerEmbedder

    runtime.fail_next("gpt-j-embedding", [429, 503])
    vectors = SageMakerEmbedder("gpt-j-embedding", config=config, dimension=384).embed_queries(["hello"])
    assert vectors.shape == (1, 384)
    assert runtime.calls["gpt-j-embedding"] == 3


def test_throttling_that_outlasts_the_retries_names_the_endpoint(runtime):
    from mediarag.embed.sagemaker import SageMakerEmbedder

    runtime.fail_next("gpt-j-embedding", [503, 503])
    remote = SageMakerEmbedder("gpt-j-embedding", config=AwsConfig(endpoint_url=runtime.url, max_attempts=2), dimension=384)
    with pytest.raises(ServiceError, match="SageMaker endpoint 'gpt-j-embedding': failed") as info:
        remote.embed_queries(["hello"])
    assert "ServiceUnavailable" in str(info.value)
    assert runtime.calls["gpt-j-embedding"] == 2


def test_unknown_endpoint_is_a_clear_error(config):
    from mediarag.embed.sagemaker import SageMakerEmbedder

    with pytest.raises(ServiceError, match="'no-such-endpoint': not found") as info:
        SageMakerEmbedder("no-such-endpoint", config=config, dimension=384).embed_queries(["hello"])
    assert info.value.resource == "SageMaker endpoint 'no-such-endpoint'"


def test_access_denied_names_the_endpoint(config, monkeypatch):
    from aws_fakes import DENIED_KEY

    from mediarag.generate.sagemaker import SageMakerGenerator

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DENIED_KEY)
    # Every generator fails with a GeneratorError; the endpoint's ServiceError is its cause.
    with pytest.raises(GeneratorError, match="SageMakerGenerator: .*'falcon': access denied.*InvokeEndpoint") as info:
        SageMakerGenerator("falcon", config=config).generate("Who?", hits("Kennedy spoke."))
    assert isinstance(info.value.__cause__, ServiceError) and info.value.__cause__.reason == "access_denied"


def test_oversized_payload_rejected_by_the_endpoint(config, runtime):
    from mediarag.embed.sagemaker import SageMakerEmbedder

    runtime.max_payload = 1000  # the server's limit is below what the client believes
    with pytest.raises(ServiceError, match="too large") as info:
        SageMakerEmbedder("gpt-j-embedding", config=config, dimension=384).embed_passages(["word " * 400])
    assert info.value.reason == "too_large" and runtime.calls["gpt-j-embedding"] == 1


def test_container_errors_are_reported_with_its_answer(config):
    from mediarag.embed.sagemaker import SageMakerEmbedder
    from mediarag.generate.sagemaker import TgiHandler

    class WrongContract(TgiHandler):  # sends a TGI body to the embedding container
        def serialize(self, texts, parameters=None, stream=False):  # type: ignore[override]
            return b'{"inputs": "x"}'

    remote = SageMakerEmbedder("gpt-j-embedding", config=config, handler=WrongContract(), dimension=384)  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="container answered 400: body must be JSON with text_inputs"):
        remote.embed_passages(["hello"])


# Whisper --------------------------------------------------------------------------------------


def test_whisper_endpoint_transcribes_a_file(config, runtime, data_dir):
    from mediarag.transcribe.sagemaker import SageMakerWhisperTranscriber

    audio = decode_audio(data_dir / "jfk.flac")
    transcript = SageMakerWhisperTranscriber("whisper", config=config).transcribe(audio, language="en")
    assert runtime.calls["whisper"] == 1
    assert wer(JFK, transcript.text) < 0.1
    assert transcript.language == "en" and transcript.duration == pytest.approx(11.0, abs=0.1)
    assert all(0 <= s.start <= s.end <= audio.duration for s in transcript.segments)


def test_whisper_audio_over_the_limit_is_cut_at_pauses_and_rebased(config, runtime, data_dir):
    from mediarag.transcribe.sagemaker import SageMakerWhisperTranscriber

    audio = decode_audio(data_dir / "jfk.flac")
    # 160 kB: five seconds of 16 kHz 16-bit audio per request, so jfk.flac (11 s) goes in pieces.
    remote = SageMakerWhisperTranscriber("whisper", config=config, max_payload_bytes=160_000)
    pieces = remote.pieces(audio)
    assert len(pieces) >= 3 and all(b - a <= remote.max_piece_seconds(16000) for a, b in pieces)
    seen: list[float] = []
    transcript = remote.transcribe(audio, progress=seen.append)
    assert runtime.calls["whisper"] == len(pieces)
    assert max(len(b) for b in runtime.bodies["whisper"]) <= 160_000
    assert wer(JFK, transcript.text) < 0.25
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and transcript.segments[-1].end > 7.0  # times are on the whole file
    country = [s for s in transcript.segments if "your country" in s.text.lower()]
    assert country and country[-1].start > 4.0
    assert seen[-1] == pytest.approx(audio.duration)


def test_whisper_contract_cannot_translate(config):
    from mediarag.transcribe.sagemaker import SageMakerWhisperTranscriber

    audio = decode_audio(__import__("pathlib").Path(__file__).parent / "data" / "jfk.flac")
    with pytest.raises(ConfigError, match="translate"):
        SageMakerWhisperTranscriber("whisper", config=config).transcribe(audio, task="translate")


# Generation -----------------------------------------------------------------------------------

PASSAGES = (
    "The river floods every spring when the snow melts in the mountains.",
    "Kennedy asked his fellow Americans to ask what they can do for their country.",
    "The recipe needs two eggs and a cup of flour.",
)


def test_generator_sends_the_shared_prompt_and_cites_the_passage_it_uses(config, runtime):
    from mediarag.generate.prompt import DEFAULT_STOP, SYSTEM_PROMPT, build_messages, render_passage
    from mediarag.generate.sagemaker import SageMakerGenerator, render_chat

    # whole passages (moment_sentences=None), to check the request's layout passage by passage
    generator = SageMakerGenerator("falcon", config=config, moment_sentences=None)
    question = "What did Kennedy ask Americans to do?"
    passages = hits(*PASSAGES)
    generation = generator.generate(question, passages)
    assert generation.used == [1]
    assert "fellow Americans" in generation.text and generation.text.endswith("[1]")
    request = json.loads(runtime.bodies["falcon"][0])
    assert set(request) == {"inputs", "parameters"}
    prompt = request["inputs"]
    assert prompt.startswith(SYSTEM_PROMPT) and prompt.endswith("\n\nAssistant:")
    assert all(render_passage(i + 1, hit) in prompt for i, hit in enumerate(passages))
    assert f"User: Passages:\n\n{render_passage(1, passages[0])}" in prompt
    assert f"Question: {question}" in prompt
    assert prompt == render_chat(build_messages(question, passages))  # everything fits 2048 tokens
    assert request["parameters"] == {
        "max_new_tokens": 256, "return_full_text": False, "stop": [*DEFAULT_STOP, "\nUser:"], "do_sample": False,
    }  # fmt: skip


def test_generator_options_reach_the_request(config, runtime):
    from mediarag.generate.sagemaker import SageMakerGenerator
    from mediarag.schema import Message

    generator = SageMakerGenerator(
        "falcon", config=config, max_new_tokens=64, temperature=0.7, history_turns=2, moment_sentences=None
    )
    history = [
        Message(role="user", content="Who spoke in the recording?"),
        Message(role="assistant", content="Kennedy spoke [1]."),
        Message(role="user", content="When does the river flood?"),
        Message(role="assistant", content="Every spring [2]."),
    ]
    generator.generate("And what does the recipe need?", hits(*PASSAGES), history)
    request = json.loads(runtime.bodies["falcon"][0])
    assert request["parameters"]["max_new_tokens"] == 64
    assert request["parameters"]["do_sample"] is True and request["parameters"]["temperature"] == 0.7
    prompt = request["inputs"]
    assert "Who spoke" not in prompt and "Kennedy spoke" not in prompt  # older than two messages
    assert "User: When does the river flood?\n\nAssistant: Every spring.\n\nUser: Passages:" in prompt


def test_generator_settings_reach_the_sagemaker_generator(config, runtime):
    from mediarag import MediaQA, Settings
    from mediarag.generate.sagemaker import SageMakerGenerator

    settings = Settings(
        generator="sagemaker", generator_endpoint="falcon", llm_max_tokens=48, llm_temperature=0.3,
        llm_stop=["END"], llm_timeout=30,
    )  # fmt: skip
    built = MediaQA(settings=settings).generator
    assert isinstance(built, SageMakerGenerator) and built.max_tokens == 48 and built.timeout == 30
    generator = SageMakerGenerator.from_config(settings.generation, config)  # the fixture's endpoint server
    assert generator.endpoint.name == "falcon" and generator.context_window == 2048
    generator.generate("Who spoke?", hits(*PASSAGES))
    parameters = json.loads(runtime.bodies["falcon"][0])["parameters"]
    assert parameters["max_new_tokens"] == 48 and parameters["temperature"] == 0.3
    assert "END" in generator.stop


def test_generator_keeps_the_prompt_within_the_context_window(config, runtime):
    from mediarag.errors import GeneratorError
    from mediarag.generate.sagemaker import SageMakerGenerator

    with pytest.raises(GeneratorError, match="context window of 300 tokens"):
        SageMakerGenerator("falcon", config=config, context_window=300, moment_sentences=None).generate(
            "Who?", hits(*PASSAGES)
        )
    assert runtime.calls["falcon"] == 0
    # whole passages, so that the budget has a passage to drop
    generator = SageMakerGenerator("falcon", config=config, context_window=410, max_new_tokens=64, moment_sentences=None)
    generation = generator.generate("What did Kennedy ask Americans to do?", hits(*PASSAGES))
    assert generator.last_prompt is not None and generator.last_prompt.kept == 2  # the lowest-ranked goes
    assert "two eggs" not in json.loads(runtime.bodies["falcon"][0])["inputs"]
    assert generation.used == [1]


def scripted(runtime, monkeypatch, text: str, name: str = "scripted") -> str:
    """An endpoint whose model writes ``text`` whatever it is asked (stop sequences apply)."""
    from aws_fakes import tgi_model, tgi_stream_model

    monkeypatch.setitem(runtime.models, name, functools.partial(tgi_model, answer=lambda prompt: text))
    monkeypatch.setitem(runtime.stream_models, name, functools.partial(tgi_stream_model, answer=lambda prompt: text))
    return name


def test_labels_are_renumbered_in_citation_order_and_unknown_ones_dropped(config, runtime, monkeypatch):
    from mediarag.generate.sagemaker import SageMakerGenerator

    text = "Floods come in spring [3]. Kennedy spoke [1, 3] and [7] . Eggs [2][2].\nUser: And then?\nAssistant: No."
    endpoint = scripted(runtime, monkeypatch, text)
    generation = SageMakerGenerator(endpoint, config=config).generate("What happens?", hits(*PASSAGES))
    assert generation.used == [2, 0, 1]
    assert generation.text == "Floods come in spring [1]. Kennedy spoke [2][1] and. Eggs [3][3]."
    # The container stopped at the turn marker and kept it, as TGI does; the answer does not.
    assert json.loads(runtime.bodies[endpoint][0])["parameters"]["stop"][-1] == "\nUser:"


def test_extra_stop_sequences_past_the_containers_four_still_end_the_answer(config, runtime, monkeypatch):
    from mediarag.generate.sagemaker import SageMakerGenerator

    endpoint = scripted(runtime, monkeypatch, "Kennedy spoke [2]. END Then he left [3].")
    generator = SageMakerGenerator(endpoint, config=config, stop=("END",))
    generation = generator.generate("Who spoke?", hits(*PASSAGES))
    assert generation.text == "Kennedy spoke [1]." and generation.used == [1]
    assert len(json.loads(runtime.bodies[endpoint][0])["parameters"]["stop"]) == 4  # TGI refuses more


def test_streaming_gives_the_same_answer_as_a_single_reply(config, runtime, monkeypatch):
    from mediarag.generate.prompt import tidy
    from mediarag.generate.sagemaker import SageMakerGenerator

    endpoint = scripted(runtime, monkeypatch, "Kennedy [2] spoke of [9] floods [1]. <passage id=\"[4]\">")
    question, passages = "Who spoke?", hits(*PASSAGES)
    whole = SageMakerGenerator(endpoint, config=config).generate(question, passages)
    streaming = SageMakerGenerator(endpoint, config=config, stream=True)
    reply = streaming.stream(question, passages)
    pieces = list(reply)
    assert len(pieces) > 3
    assert whole.text == "Kennedy [1] spoke of floods [2]." and whole.used == [1, 0]
    assert reply.generation == whole
    assert tidy("".join(pieces)) == whole.text  # pieces keep the space a dropped label leaves
    assert streaming.generate(question, passages) == whole  # stream=True: generate streams too
    assert runtime.calls[endpoint] == 3
    assert [json.loads(b).get("stream", False) for b in runtime.bodies[endpoint]] == [False, True, True]


def test_generator_streams_through_the_event_stream(config, runtime):
    from mediarag.generate.sagemaker import SageMakerGenerator

    generator = SageMakerGenerator("falcon", config=config, stream=True)
    pieces = list(generator.stream("When does the river flood?", hits(*PASSAGES)))
    assert len(pieces) > 5 and "</s>" not in "".join(pieces)
    assert "".join(pieces).strip().startswith("The river floods every spring")
    assert "".join(pieces).rstrip().endswith("[1]")
    generation = generator.generate("How many eggs does the recipe need?", hits(*PASSAGES))
    assert generation.used == [2] and "two eggs" in generation.text and generation.text.endswith("[1]")


def test_an_error_event_mid_stream_names_the_endpoint(config):
    from mediarag.generate.sagemaker import SageMakerGenerator

    generator = SageMakerGenerator("falcon", config=config, stream=True)
    pieces = []
    with pytest.raises(GeneratorError, match="'falcon': failed.*ModelStreamError.*reset"):
        for piece in generator.stream("Does the river flood? break the stream", hits(*PASSAGES)):
            pieces.append(piece)
    assert pieces  # the first tokens arrived before the error


def test_an_unreadable_answer_names_the_endpoint(config, runtime, monkeypatch):
    from mediarag.generate.sagemaker import SageMakerGenerator

    monkeypatch.setitem(runtime.models, "garbled", lambda body, headers: (200, "application/json", b'{"text": "hi"}'))
    monkeypatch.setitem(runtime.stream_models, "garbled", lambda body: iter([b'data:{"token": {"text": "Hi"}}\n', b"data:{oops\n"]))
    with pytest.raises(GeneratorError, match="SageMaker endpoint 'garbled': invalid.*unexpected generation response") as info:
        SageMakerGenerator("garbled", config=config).generate("Who?", hits(*PASSAGES))
    assert info.value.__cause__.reason == "invalid"
    with pytest.raises(GeneratorError, match="SageMaker endpoint 'garbled': invalid.*unexpected stream event"):
        list(SageMakerGenerator("garbled", config=config).stream("Who?", hits(*PASSAGES)))


# The whole pipeline on endpoints, configured through Settings -----------------------------------


def test_mediaqa_on_sagemaker_endpoints(runtime, monkeypatch, tmp_path, data_dir):
    from mediarag import MediaQA, Settings

    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)
    monkeypatch.setenv("wp_ep_name", "whisper")
    monkeypatch.setenv("falcon_ep_name", "falcon")
    settings = Settings(index_dir=tmp_path / "idx", transcriber="sagemaker", embedder_model="sagemaker:gpt-j-embedding",
                        generator="sagemaker", segmenter="window", language="en")  # fmt: skip
    qa = MediaQA(settings=settings)
    assert qa.ingest(data_dir / "jfk.flac").ok
    answer = qa.ask("What did Kennedy ask his fellow Americans to do?")
    assert answer.grounded and answer.citations[0].source == str((data_dir / "jfk.flac").resolve())
    assert "[1]" in answer.text and "country" in answer.text
    assert {runtime.calls["whisper"], runtime.calls["falcon"]} == {1} and runtime.calls["gpt-j-embedding"] >= 2
    assert MediaQA(settings=settings).store.embedder_name == "sagemaker:gpt-j-embedding"


def test_aws_modules_import_boto3_only_when_used():
    import subprocess
    import sys

    code = (
        "import sys, mediarag, mediarag.aws.processing, mediarag.embed.sagemaker, mediarag.generate.sagemaker,"
        " mediarag.transcribe.sagemaker, mediarag.transcribe.aws_transcribe, mediarag.aws.s3;"
        "print([m for m in ('boto3', 'botocore') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
