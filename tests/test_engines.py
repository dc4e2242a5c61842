"""`PipelinedEngine` (decode and VAD on threads ahead of the model) against the local path, with
real models on real audio, and the pipeline's parts it is built on."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mediarag import MediaQA, Settings
from mediarag.engines import PipelinedEngine
from mediarag.errors import ConfigError
from mediarag.media import decode_audio
from mediarag.store.faiss import FaissStore
from mediarag.transcribe.vad import RegionCache

DATA = Path(__file__).parent / "data"
FILES = ("jfk.flac", "fleurs-en-000.ogg", "fleurs-en-001.ogg")


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    for name in FILES:
        shutil.copy(DATA / name, folder / name)
    (folder / "broken.ogg").write_bytes(b"OggS" + bytes(range(256)) * 8)
    return folder


def make_qa(index: Path, tiny_en, embedder) -> MediaQA:  # type: ignore[no-untyped-def]
    return MediaQA(settings=Settings(index_dir=index), transcriber=tiny_en, embedder=embedder)


def test_pipelined_engine_indexes_what_the_local_path_indexes(media: Path, tmp_path: Path, tiny_en, embedder) -> None:  # type: ignore[no-untyped-def]
    local = make_qa(tmp_path / "local", tiny_en, embedder).ingest([media])
    engine = PipelinedEngine(workers=2, ahead=2)
    piped = make_qa(tmp_path / "piped", tiny_en, embedder).ingest([media], engine=engine)
    for report in (local, piped):
        assert [Path(f.source).name for f in report.failed] == ["broken.ogg"]
        assert "broken.ogg" in report.failed[0].error
    assert sorted(i.source for i in piped.ingested) == sorted(i.source for i in local.ingested)
    a, b = FaissStore(tmp_path / "local"), FaissStore(tmp_path / "piped")
    for source in a.sources():
        assert [c.text for c in a.chunks(source)] == [c.text for c in b.chunks(source)]
        np.testing.assert_allclose(a.vectors(source), b.vectors(source), atol=1e-5)
    times = engine.times.busy
    assert {"decode", "transcribe", "sentences", "passages", "embed", "driver"} <= set(times)
    assert engine.times.wall >= times["transcribe"] > 0
    again = make_qa(tmp_path / "piped", tiny_en, embedder).ingest([media], engine=PipelinedEngine())
    assert not again.ingested and len(again.skipped) == len(FILES)


def test_files_transcribed_together_share_batches_and_index_what_one_at_a_time_does(media: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    """Three model threads (the windows of the files in flight decoded in common batches) and
    two decoding processes index what one thread does, and the bad file still fails alone."""
    pytest.importorskip("transformers")
    from mediarag.transcribe.transformers import TransformersTranscriber

    tr = TransformersTranscriber("tiny.en", windows="vad", beam_size=1, batch_size=8)
    one = make_qa(tmp_path / "one", tr, embedder).ingest([media], engine=PipelinedEngine(workers=2))
    windows, batches = tr.batcher.windows, tr.batcher.batches
    engine = PipelinedEngine(workers=3, model_threads=3, decode_processes=2)
    many = make_qa(tmp_path / "many", tr, embedder).ingest([media], engine=engine)
    assert [Path(f.source).name for f in many.failed] == ["broken.ogg"] and "broken.ogg" in many.failed[0].error
    assert sorted(i.source for i in many.ingested) == sorted(i.source for i in one.ingested)
    assert tr.batcher.windows - windows == windows  # the same windows...
    assert tr.batcher.batches - batches <= batches  # ...in as many batches or fewer
    assert tr.batcher.senders == 1  # the engine told the batcher of its 3 threads only while it ran
    a, b = FaissStore(tmp_path / "one"), FaissStore(tmp_path / "many")
    for source in a.sources():
        assert [c.text for c in a.chunks(source)] == [c.text for c in b.chunks(source)]
        assert [(c.start, c.end) for c in a.chunks(source)] == [(c.start, c.end) for c in b.chunks(source)]
    assert engine.times.busy["decode"] > 0


def test_pipelined_engine_runs_the_transcribers_vad_ahead(media: Path, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("transformers")
    from mediarag.transcribe.transformers import TransformersTranscriber

    tr = TransformersTranscriber("tiny.en", windows="vad", beam_size=1)
    engine = PipelinedEngine(workers=2)
    report = make_qa(tmp_path / "idx", tr, embedder).ingest([media / "jfk.flac", media / "fleurs-en-000.ogg"], engine=engine)
    assert report.ok and len(report.ingested) == 2
    assert engine.times.busy["vad"] > 0
    assert "fellow americans" in FaissStore(tmp_path / "idx").transcript(str((media / "jfk.flac").resolve())).text.lower()


def test_region_cache_hands_regions_to_the_same_audio_only() -> None:
    cache = RegionCache(limit=2)
    audio = decode_audio(DATA / "jfk.flac")
    cache.put(audio, [(0.0, 1.0)])
    other = decode_audio(DATA / "jfk.flac")  # equal samples, another buffer
    assert cache.pop(other) is None
    assert cache.pop(audio) == [(0.0, 1.0)] and cache.pop(audio) is None  # handed once


def test_engine_arguments_are_checked() -> None:
    with pytest.raises(ConfigError):
        PipelinedEngine(workers=0)
    with pytest.raises(ConfigError):
        PipelinedEngine(ahead=0)
    with pytest.raises(ConfigError, match="model_threads"):
        PipelinedEngine(model_threads=0)
    with pytest.raises(ConfigError, match="decode_processes"):
        PipelinedEngine(decode_processes=-1)


def test_decoder_processes_decode_what_this_process_decodes(media: Path) -> None:
    """Worker processes give `decode_audio`'s samples; a bad file and a killed worker each fail
    that one file with its name, the next file decodes, and `close` stops every worker."""
    from mediarag.engines.decoders import DecoderProcesses
    from mediarag.errors import MediaError

    with DecoderProcesses(2) as decoders:
        audio = decoders.decode(media / "jfk.flac")
        np.testing.assert_array_equal(audio.samples, decode_audio(media / "jfk.flac").samples)
        assert audio.source == str(media / "jfk.flac") and audio.sample_rate == 16000
        with pytest.raises(MediaError, match="broken.ogg"):
            decoders.decode(media / "broken.ogg")
        worker = decoders._idle.get()  # noqa: SLF001 - kill one worker between two files
        worker.kill()
        worker.wait()
        decoders._idle.put(worker)  # noqa: SLF001
        with pytest.raises(MediaError, match="fleurs-en-000.ogg: the decoding process stopped"):
            decoders.decode(media / "fleurs-en-000.ogg")
        assert decoders.decode(media / "fleurs-en-000.ogg").duration > 1
        workers = list(decoders._all)  # noqa: SLF001
        folder = decoders._folder  # noqa: SLF001
    assert workers and all(w.poll() is not None for w in workers)
    assert not folder.exists()
