"""The transformers transcription backend and the CTranslate2 -> transformers Whisper converter.

Real models (the packaged tiny.en and base, converted once into the default cache, then reused)
on real audio from tests/data.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no model hub here: everything must load locally

import numpy as np
import pytest

pytest.importorskip("transformers")
pytest.importorskip("torch")

from conftest import normalize, wer  # noqa: E402
from mediarag.errors import ConfigError  # noqa: E402
from mediarag.media import Audio, decode_audio  # noqa: E402
from mediarag.schema import TIME_EPSILON, Transcript  # noqa: E402
from mediarag.transcribe._ct2_to_hf import (  # noqa: E402
    MARKER_FILE,
    _dequantize,
    hf_whisper_dir,
    read_ct2_model,
)
from mediarag.transcribe.base import Transcriber  # noqa: E402
from mediarag.transcribe.transformers import (  # noqa: E402
    TransformersTranscriber,
    _segments_from_chunks,
)
from mediarag.weights import cache_dir, resolve_whisper  # noqa: E402

DATA = Path(__file__).parent / "data"
JFK_TEXT = (
    "And so, my fellow Americans: ask not what your country can do for you, "
    "ask what you can do for your country."
)


# ---------------------------------------------------------------------- helpers


def check_invariants(tx: Transcript) -> None:
    assert tx.segments, "no segments"
    starts = [s.start for s in tx.segments]
    assert starts == sorted(starts)
    for s in tx.segments:
        assert 0.0 <= s.start <= s.end <= tx.duration + TIME_EPSILON
        assert s.text == s.text.strip() and s.text
        assert s.language == tx.language


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():  # type: ignore[no-untyped-def]
    """Run torch on one thread here, restoring the setting afterwards.

    On a shared 2-core machine torch's two OpenMP threads slowed these tests 3-4x whenever
    another process was busy (a translate call: 23-30 s with 2 threads, 7.5 s with 1, load 4.5);
    on an idle machine one thread costs up to 2x.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def jfk() -> Audio:
    return decode_audio(DATA / "jfk.flac")


@pytest.fixture(scope="module")
def spanish() -> Audio:
    return decode_audio(DATA / "fleurs-es-000.ogg")


@pytest.fixture(scope="module")
def tiny_en() -> TransformersTranscriber:
    tr = TransformersTranscriber("tiny.en")
    tr.warm_up()
    return tr


@pytest.fixture(scope="module")
def base() -> TransformersTranscriber:
    # Greedy keeps the module fast; the default (5 beams) is exercised with tiny.en above.
    tr = TransformersTranscriber("base", generate_kwargs={"num_beams": 1})
    tr.warm_up()
    return tr


# ---------------------------------------------------------------------- converter


def test_converted_checkpoint_loads_offline() -> None:
    from transformers import AutoProcessor, GenerationConfig, WhisperForConditionalGeneration

    path = Path(hf_whisper_dir("tiny.en"))
    assert path.parent.name == "hf" and (path / MARKER_FILE).exists()
    model, info = WhisperForConditionalGeneration.from_pretrained(
        path, local_files_only=True, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    c = model.config
    assert (c.d_model, c.encoder_layers, c.decoder_layers, c.encoder_attention_heads) == (
        384,
        4,
        4,
        6,
    )
    assert (c.vocab_size, c.num_mel_bins, c.max_source_positions, c.max_target_positions) == (
        51864, 80, 1500, 448,
    )  # fmt: skip
    assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()

    gen = GenerationConfig.from_pretrained(path, local_files_only=True)
    processor = AutoProcessor.from_pretrained(path, local_files_only=True)
    tok = processor.tokenizer
    assert gen.is_multilingual is False
    assert gen.no_timestamps_token_id == tok.convert_tokens_to_ids("<|notimestamps|>")
    assert gen.decoder_start_token_id == tok.convert_tokens_to_ids("<|startoftranscript|>")
    assert gen.eos_token_id == tok.convert_tokens_to_ids("<|endoftext|>")
    assert processor.feature_extractor.feature_size == 80
    assert processor.feature_extractor.sampling_rate == 16000

    # Converted once: a second call reuses the directory without rewriting it.
    before = (path / "model.safetensors").stat().st_mtime_ns
    assert Path(hf_whisper_dir("whisper-tiny.en")) == path
    assert (path / "model.safetensors").stat().st_mtime_ns == before


def test_base_generation_config_is_multilingual() -> None:
    path = Path(hf_whisper_dir("base"))
    gen = json.loads((path / "generation_config.json").read_text())
    assert gen["is_multilingual"] is True
    assert len(gen["lang_to_id"]) == 99 and gen["lang_to_id"]["<|es|>"] == 50262
    assert gen["task_to_id"] == {"transcribe": 50359, "translate": 50358}
    assert gen["forced_decoder_ids"] is None
    assert gen["alignment_heads"][0] == [3, 1]
    ct2 = json.loads((Path(resolve_whisper("base")) / "config.json").read_text())
    assert gen["suppress_tokens"] == ct2["suppress_ids"]
    assert gen["begin_suppress_tokens"] == ct2["suppress_ids_begin"]


def test_hf_whisper_dir_passes_other_names_through(tmp_path: Path) -> None:
    assert hf_whisper_dir("openai/whisper-small") == "openai/whisper-small"
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert hf_whisper_dir(str(tmp_path)) == str(tmp_path.resolve())


def test_converted_model_computes_what_ctranslate2_computes(jfk: Audio) -> None:
    """Same log-mel input -> same encoder output and same greedy tokens as CTranslate2."""
    import ctranslate2
    import torch
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    path = hf_whisper_dir("tiny.en")
    processor = AutoProcessor.from_pretrained(path)
    model = WhisperForConditionalGeneration.from_pretrained(path, dtype=torch.float32).eval()
    features = processor(jfk.samples, sampling_rate=16000, return_tensors="pt").input_features
    ct2 = ctranslate2.models.Whisper(
        resolve_whisper("tiny.en"), device="cpu", compute_type="float32"
    )
    view = ctranslate2.StorageView.from_array(np.ascontiguousarray(features.numpy()))
    with torch.inference_mode():
        hf_encoded = model.model.encoder(features).last_hidden_state.numpy()
        hf_tokens = model.generate(features, num_beams=1, do_sample=False)[0].tolist()
    ct2_encoded = np.array(ct2.encode(view, to_cpu=True))
    assert np.abs(hf_encoded - ct2_encoded).max() < 1e-2
    prompt = processor.tokenizer.convert_tokens_to_ids(
        ["<|startoftranscript|>", "<|notimestamps|>"]
    )
    ct2_tokens = ct2.generate(view, [prompt], beam_size=1)[0].sequences_ids[0]
    eot = processor.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    hf_body = [t for t in hf_tokens if t < eot]
    assert hf_body == ct2_tokens


def test_int8_ctranslate2_model_round_trips(tmp_path: Path, jfk: Audio) -> None:
    """transformers -> CTranslate2 int8 (ctranslate2's own converter) -> transformers again."""
    import ctranslate2
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    int8_dir = tmp_path / "ct2-int8"
    TransformersConverter(hf_whisper_dir("tiny.en"), copy_files=["tokenizer.json"]).convert(
        str(int8_dir), quantization="int8"
    )
    back = hf_whisper_dir(str(int8_dir))  # a local CTranslate2 directory is converted too
    assert Path(back).parent.name == "hf" and Path(back, MARKER_FILE).exists()
    processor = AutoProcessor.from_pretrained(back)
    model = WhisperForConditionalGeneration.from_pretrained(back, dtype=torch.float32).eval()
    features = processor(jfk.samples, sampling_rate=16000, return_tensors="pt").input_features
    ct2 = ctranslate2.models.Whisper(str(int8_dir), device="cpu", compute_type="float32")
    view = ctranslate2.StorageView.from_array(np.ascontiguousarray(features.numpy()))
    prompt = processor.tokenizer.convert_tokens_to_ids(
        ["<|startoftranscript|>", "<|notimestamps|>"]
    )
    eot = processor.tokenizer.convert_tokens_to_ids("<|endoftext|>")
    with torch.inference_mode():
        hf_tokens = [t for t in model.generate(features, num_beams=1)[0].tolist() if t < eot]
    assert hf_tokens == ct2.generate(view, [prompt], beam_size=1)[0].sequences_ids[0]
    shutil.rmtree(back)


def test_reader_dequantizes_like_ctranslate2_quantizes() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 5, 3)).astype(np.float32)  # a Conv1D-shaped weight
    flat = w.reshape(6, -1)
    scale = 127.0 / np.abs(flat).max(axis=1)
    q = np.rint(flat * scale[:, None]).astype(np.int8).reshape(w.shape)
    back = _dequantize(q, scale.astype(np.float32))
    assert back.shape == w.shape and np.abs(back - w).max() <= (1 / scale).max() / 2 + 1e-6
    s16 = np.float32(2**10 / np.abs(w).max())
    q16 = np.rint(w * s16).astype(np.int16)
    assert np.abs(_dequantize(q16, np.array(s16)) - w).max() <= 1 / s16


def test_reader_parses_packaged_model() -> None:
    ct2 = read_ct2_model(Path(resolve_whisper("tiny.en")) / "model.bin")
    assert ct2.spec == "WhisperSpec" and ct2.binary_version >= 4
    assert ct2.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert ct2.variables["encoder/conv1/weight"].shape == (384, 80, 3)
    assert int(ct2.variables["decoder/num_heads"]) == 6


# ---------------------------------------------------------------------- chunk post-processing


def test_segments_from_pipeline_quirks() -> None:
    chunks = [
        {"timestamp": (0.0, 2.0), "text": " first "},
        {"timestamp": (2.0, 3.0), "text": "   "},  # whitespace only: dropped
        {"timestamp": (1.5, 4.0), "text": "overlaps"},  # overlapping the previous one: kept
        {"timestamp": (1.0, 4.5), "text": "goes back"},  # starts before the previous start
        {"timestamp": (5.0, 4.5), "text": "reversed"},  # end before start
        {"timestamp": (6.0, 7.0), "text": "next"},
        {"timestamp": (8.0, None), "text": "last"},  # the pipeline's open last chunk
    ]
    segs = _segments_from_chunks(chunks, duration=9.5, language="en")
    assert [s.text for s in segs] == ["first", "overlaps", "goes back", "reversed", "next", "last"]
    assert [(s.start, s.end) for s in segs] == [
        (0.0, 2.0), (1.5, 4.0), (1.5, 4.5), (5.0, 6.0), (6.0, 7.0), (8.0, 9.5)
    ]  # fmt: skip
    assert all(s.language == "en" for s in segs)

    # Past the end of the audio, and an open end before the start: clamped.
    segs = _segments_from_chunks(
        [{"timestamp": (3.0, 12.0), "text": "a"}, {"timestamp": (11.0, None), "text": "b"}],
        duration=10.0,
        language="es",
    )
    assert [(s.start, s.end) for s in segs] == [(3.0, 10.0), (10.0, 10.0)]
    assert _segments_from_chunks([{"timestamp": (0.0, None), "text": ""}], 5.0, "en") == []


def test_bad_settings_raise_config_error() -> None:
    with pytest.raises(ConfigError):
        TransformersTranscriber("tiny.en", chunk_length_s=10, stride_length_s=5)
    with pytest.raises(ConfigError):
        TransformersTranscriber("tiny.en", chunk_length_s=45)
    with pytest.raises(ConfigError):
        TransformersTranscriber("tiny.en", batch_size=0)


# ---------------------------------------------------------------------- transcription


def test_jfk_tiny_en(tiny_en: TransformersTranscriber, jfk: Audio) -> None:
    assert isinstance(tiny_en, Transcriber)
    seen: list[float] = []
    tx = tiny_en.transcribe(jfk, progress=seen.append)
    assert tx.language == "en" and tx.task == "transcribe" and tx.source == jfk.source
    assert tx.duration == pytest.approx(jfk.duration)
    assert wer(JFK_TEXT, tx.text) < 0.15, tx.text
    check_invariants(tx)
    assert seen and seen[-1] == pytest.approx(jfk.duration)


def test_translate_on_english_only_model_raises(
    tiny_en: TransformersTranscriber, jfk: Audio
) -> None:
    with pytest.raises(ConfigError, match="English-only"):
        tiny_en.transcribe(jfk, task="translate")
    with pytest.raises(ConfigError):
        tiny_en.transcribe(jfk, language="es")


def test_spanish_detected_and_transcribed(base: TransformersTranscriber, spanish: Audio) -> None:
    reference = (DATA / "fleurs-es-000.txt").read_text(encoding="utf-8")
    tx = base.transcribe(spanish)  # language=None: detected from the first 30 s
    assert tx.language == "es"
    assert tx.languages == ["es"]
    assert wer(reference, tx.text) < 0.35, tx.text
    check_invariants(tx)


def test_spanish_translated_to_english(base: TransformersTranscriber, spanish: Audio) -> None:
    tx = base.transcribe(spanish, language="es", task="translate")
    assert tx.task == "translate" and tx.language == "es"
    words = set(normalize(tx.text))
    assert words & {"the", "to", "of", "that", "in", "and", "is", "travelers", "travellers"}, (
        tx.text
    )
    assert not words & {"los", "que", "sobre", "viajeros"}, tx.text
    check_invariants(tx)


def test_unknown_language_raises(base: TransformersTranscriber, spanish: Audio) -> None:
    with pytest.raises(ConfigError):
        base.transcribe(spanish, language="xx")


def test_unloadable_models_raise_model_error(tmp_path: Path) -> None:
    from mediarag.errors import ModelError

    with pytest.raises(ModelError, match="no-such/whisper-model"):
        TransformersTranscriber("no-such/whisper-model").warm_up()
    broken = tmp_path / "broken-ct2"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"\x06\x00\x00\x00garbage")
    with pytest.raises(ModelError, match="broken-ct2"):
        hf_whisper_dir(str(broken))
    assert not list((cache_dir() / "hf").glob(".broken-ct2-*"))  # no temporary directory left


# ---------------------------------------------------------------------- batched VAD windows


@pytest.fixture(scope="module")
def tiny_en_windows() -> TransformersTranscriber:
    tr = TransformersTranscriber("tiny.en", windows="vad", beam_size=1, batch_size=2)
    tr.warm_up()
    return tr


def test_vad_windows_jfk_with_word_times(tiny_en_windows: TransformersTranscriber, jfk: Audio) -> None:
    seen: list[float] = []
    tx = tiny_en_windows.transcribe(jfk, progress=seen.append)
    assert wer(JFK_TEXT, tx.text) < 0.15, tx.text
    check_invariants(tx)
    assert tx.language == "en" and seen[-1] == pytest.approx(jfk.duration)
    words = [w for s in tx.segments for w in s.words]
    assert [normalize(w.text)[0] for w in words if normalize(w.text)] == normalize(tx.text)
    americans = next(w for w in words if "Americans" in w.text)
    assert americans.start <= 1.8 <= americans.end  # where openai/whisper's tests put it
    for seg in tx.segments:
        assert all(seg.start - 0.02 <= w.start <= w.end <= seg.end + 0.02 for w in seg.words)
    starts = [w.start for w in words]
    assert starts == sorted(starts)


def test_vad_windows_long_file_keeps_every_clip_in_its_span(
    tiny_en_windows: TransformersTranscriber, clip_spans: dict[str, list[dict]]
) -> None:
    """30 s, five utterances, decoded in batches of two windows: each utterance's words are
    found inside its true span, and none is repeated at a window join."""
    audio = decode_audio(DATA / "librivox_en_concat.wav")
    tx = tiny_en_windows.transcribe(audio)
    check_invariants(tx)
    words = [(0.5 * (w.start + w.end), normalize(w.text)) for s in tx.segments for w in s.words]
    spans = clip_spans["librivox_en_concat.wav"]
    reference = " ".join(row["reference_text"] for row in spans)
    assert wer(reference, tx.text) < 0.25, tx.text
    for row in spans:
        inside = [t for mid, ws in words if row["start_s"] - 0.5 <= mid <= row["end_s"] + 0.5 for t in ws]
        expected = normalize(row["reference_text"])
        recall = sum(1 for t in set(expected) if t in inside) / len(set(expected))
        assert recall >= 0.6, (row["reference_text"], inside)
    assert len(normalize(tx.text)) <= len(normalize(reference)) + 4


def test_prepare_runs_vad_ahead_with_the_same_result(tiny_en_windows: TransformersTranscriber, jfk: Audio) -> None:
    tiny_en_windows.prepare(jfk)
    ahead = tiny_en_windows.transcribe(jfk)
    assert ahead.text == tiny_en_windows.transcribe(jfk).text


def test_languages_detected_per_window(base_windows: TransformersTranscriber, spanish: Audio) -> None:
    """Windows are packed from speech regions up to 30 s: 10 s of silence puts the English and
    the Spanish sentence in windows of their own, each decoded in its own language."""
    english = decode_audio(DATA / "fleurs-en-000.ogg")
    gap = np.zeros(16000 * 10, np.float32)
    both = Audio(np.concatenate([english.samples, gap, spanish.samples]), source="en-then-es")
    tx = base_windows.transcribe(both)
    check_invariants_per_window(tx)
    assert set(tx.languages) == {"en", "es"}, [(s.language, s.text) for s in tx.segments]
    boundary = english.duration + 5.0
    assert all(s.language == ("en" if s.end <= boundary else "es") for s in tx.segments)
    reference = (DATA / "fleurs-es-000.txt").read_text(encoding="utf-8")
    spoken = " ".join(s.text for s in tx.segments if s.language == "es")
    assert wer(reference, spoken) < 0.35, spoken


@pytest.fixture(scope="module")
def base_windows() -> TransformersTranscriber:
    tr = TransformersTranscriber("base", windows="vad", beam_size=1)
    tr.warm_up()
    return tr


def check_invariants_per_window(tx: Transcript) -> None:
    assert tx.segments
    starts = [s.start for s in tx.segments]
    assert starts == sorted(starts)
    for s in tx.segments:
        assert 0.0 <= s.start <= s.end <= tx.duration + TIME_EPSILON and s.text


def test_vad_windows_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="windows"):
        TransformersTranscriber("tiny.en", windows="stride")
    with pytest.raises(ConfigError, match="beam_size"):
        TransformersTranscriber("tiny.en", windows="vad", beam_size=0)
    with pytest.raises(ConfigError, match="batch_linger"):
        TransformersTranscriber("tiny.en", windows="vad", batch_linger=-0.5)


def test_dtw_matches_the_plain_double_loop() -> None:
    """The batched anti-diagonal DTW gives openai/whisper's path on random matrices."""
    from mediarag.transcribe.alignment import dtw

    def reference(x: np.ndarray) -> tuple[list[int], list[int]]:
        n, m = x.shape
        cost = np.full((n + 1, m + 1), np.inf, np.float32)
        trace = -np.ones((n + 1, m + 1))
        cost[0, 0] = 0
        for j in range(1, m + 1):
            for i in range(1, n + 1):
                c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
                if c0 < c1 and c0 < c2:
                    c, t = c0, 0
                elif c1 < c0 and c1 < c2:
                    c, t = c1, 1
                else:
                    c, t = c2, 2
                cost[i, j] = x[i - 1, j - 1] + c
                trace[i, j] = t
        i, j = n, m
        trace[0, :] = 2
        trace[:, 0] = 1
        rows, cols = [], []
        while i > 0 or j > 0:
            rows.append(i - 1)
            cols.append(j - 1)
            if trace[i, j] == 0:
                i, j = i - 1, j - 1
            elif trace[i, j] == 1:
                i -= 1
            else:
                j -= 1
        return rows[::-1], cols[::-1]

    rng = np.random.default_rng(7)
    sizes = [(5, 40), (12, 30), (1, 9), (7, 7)]
    batch = np.zeros((len(sizes), 12, 40), np.float32)
    for b, (n, m) in enumerate(sizes):
        batch[b, :n, :m] = rng.normal(size=(n, m))
    import torch

    for costs in (batch, torch.from_numpy(batch)):  # numpy, and torch (the GPU path's own)
        paths = dtw(costs, [n for n, _ in sizes], [m for _, m in sizes])
        for b, (n, m) in enumerate(sizes):
            rows, cols = reference(batch[b, :n, :m])
            assert paths[b][0].tolist() == rows and paths[b][1].tolist() == cols


def test_greedy_decoder_chooses_what_generate_chooses(tiny_en_windows: TransformersTranscriber, jfk: Audio) -> None:
    """`BatchDecoder` (its own decoder pass and the timestamp rules on the whole batch) gives
    the tokens of transformers' greedy ``generate`` with timestamps, for a batch of two windows
    of different lengths; only its timestamps never pass the window's end (``generate`` put one
    at 6.08 s in the 6-s window)."""
    import torch

    decoder = tiny_en_windows._decoder  # noqa: SLF001 - the loaded WindowDecoder
    model, fe = decoder.model, decoder.processor.feature_extractor
    pieces = [jfk.samples, jfk.samples[: 16000 * 6]]
    features = fe(pieces, sampling_rate=16000, return_tensors="pt").input_features
    with torch.inference_mode():
        expected = model.generate(input_features=features, return_timestamps=True, num_beams=1, max_new_tokens=160)
        expected = (expected["sequences"] if isinstance(expected, dict) else expected).tolist()
        cross = decoder.fast.layers.cross_cache(model.get_encoder()(features).last_hidden_state)
        start = int(model.generation_config.decoder_start_token_id)
        got = decoder.fast.decode(cross, [[start], [start]], [len(p) / 16000 for p in pieces], [160, 160])
    eot, begin = decoder.eot, decoder.timestamp_begin
    want = [[t for t in seq if t != eot and t != start] for seq in expected]
    assert got[0] == want[0]
    assert [t for t in got[1] if t < begin] == [t for t in want[1] if t < begin]
    assert max(got[1]) <= begin + 300 < max(want[1])
    assert all(seq[0] >= begin for seq in got)  # a window starts with a timestamp


def test_beam_search_on_the_device_gives_generates_text(jfk: Audio) -> None:
    """Five beams (`BatchDecoder.beam_search`, all on the device) give the text of transformers'
    beam search, with word times, and time each phase of the batch."""
    import torch

    tr = TransformersTranscriber("tiny.en", windows="vad", beam_size=5, batch_size=2)
    tx = tr.transcribe(jfk)
    decoder = tr._decoder  # noqa: SLF001 - the loaded WindowDecoder
    features = decoder.processor.feature_extractor([jfk.samples], sampling_rate=16000, return_tensors="pt").input_features
    with torch.inference_mode():
        out = decoder.model.generate(input_features=features, num_beams=5, early_stopping=True, return_timestamps=True)
    expected = decoder.processor.tokenizer.decode((out["sequences"] if isinstance(out, dict) else out)[0], skip_special_tokens=True)
    assert tx.text.strip() == expected.strip()
    assert all(s.words for s in tx.segments)
    assert set(decoder.times) == {"features", "encode", "search", "align", "words"}


def test_log_mel_on_the_device_equals_the_feature_extractors(tiny_en_windows: TransformersTranscriber, jfk: Audio) -> None:
    """The GPU path's own log-mel features (samples copied to the device, padded there) equal
    the feature extractor's, for windows shorter than 30 s."""
    import torch

    from mediarag.transcribe.batched import log_mel

    fe = tiny_en_windows._decoder.processor.feature_extractor  # noqa: SLF001
    pieces = [jfk.samples, jfk.samples[: 16000 * 3]]
    expected = fe(pieces, sampling_rate=16000, return_tensors="pt", device="cpu").input_features
    assert torch.allclose(log_mel(fe, pieces, torch.device("cpu")), expected, atol=1e-5)
