"""Fast checks of the helpers of benchmarks/speed*.py and run_all.py (nothing here is timed)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))  # benchmarks/ is not a package: its modules import each other by name

import speed_ingest  # noqa: E402
import speed_report  # noqa: E402
import speed_search  # noqa: E402
from core import stats  # noqa: E402


@pytest.mark.parametrize("q", [0, 5, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy(q):
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 3.5, 8.9, 7.0, 0.2]
    assert stats.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_median_and_summary():
    assert stats.median([5, 1, 3]) == 3
    assert stats.median([4, 1, 3, 2]) == 2.5
    assert stats.median([7.0]) == 7.0
    s = stats.summarize([2.0, 1.0, 3.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    with pytest.raises(ValueError):
        stats.percentile([], 50)
    with pytest.raises(ValueError):
        stats.percentile([1.0], 101)


def test_concat_clips_exact_duration_loops_and_gaps():
    rate = 100
    a = np.ones(50, dtype=np.float32)  # 0.5 s
    b = np.full(30, 0.5, dtype=np.float32)  # 0.3 s
    out = speed_ingest.concat_clips([a, b], 3.0, gap_seconds=0.2, lead_seconds=0.1, sample_rate=rate)
    assert out.dtype == np.float32 and len(out) == 300
    assert not out[:10].any()  # lead silence
    assert (out[10:60] == 1.0).all() and not out[60:80].any()  # clip a, then a gap
    assert (out[80:110] == 0.5).all() and not out[110:130].any()  # clip b, then a gap
    assert (out[130:180] == 1.0).all()  # looped back to clip a
    with pytest.raises(ValueError):
        speed_ingest.concat_clips([np.zeros(0)], 1.0)


@pytest.mark.parametrize("suffix", [".wav", ".ogg"])
def test_build_long_audio_has_the_requested_duration(tmp_path, data_dir, suffix):
    from mediarag.media import decode_audio

    out = tmp_path / f"long{suffix}"
    seconds = speed_ingest.build_long_audio([data_dir / "jfk.flac", data_dir / "fleurs-en-000.ogg"], 25.0, out)
    assert seconds == pytest.approx(25.0)
    decoded = decode_audio(out)
    assert decoded.duration == pytest.approx(25.0, abs=0.1)  # Opus may pad a few ms
    assert np.abs(decoded.samples).max() > 0.05  # real speech, not silence


def test_paragraph_passages_and_questions(tmp_path):
    text = "One is here. Two is there! Three? Four."
    passages = speed_search.paragraph_passages(text)
    assert passages[0] == (0, 4, text)
    assert (0, 1, "One is here.") in passages and (1, 3, "Two is there! Three?") in passages
    assert len(passages) == 1 + 4 + 3 + 2
    data = {"data": [{"paragraphs": [{"context": text, "qas": [{"question": f"q{i}"} for i in range(10)]}]}]}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    assert speed_search.xquad_questions(path, 5) == ["q0", "q2", "q4", "q6", "q8"]
    assert speed_search.xquad_questions(path, 50) == [f"q{i}" for i in range(10)]


def test_results_table_marks_targets():
    results = {"ask": {"passages": 10_000, "questions": 100, "ask_ms": {"median": 12.0, "p95": 30.0}}}
    rows = speed_report.results_rows(results)
    assert rows[0][-1] == "PASS" and "12.0 ms" in rows[0][1]
    results["ask"]["ask_ms"]["median"] = 80.0
    assert speed_report.results_rows(results)[0][-1] == "MISS"


def test_synthetic_vectors_are_unit_and_clustered():
    x = speed_search.synthetic_vectors(2_000, dim=32, clusters=10, seed=3)
    assert x.shape == (2_000, 32) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    nearest = (x[:200] @ x.T)
    np.fill_diagonal(nearest[:, :200], -1.0)
    assert np.median(nearest.max(axis=1)) > 0.9  # each has a close neighbour in its cluster
    assert abs(float(np.median(x[:200] @ x[200:400].T))) < 0.5  # other clusters are far
    assert np.array_equal(x, speed_search.synthetic_vectors(2_000, dim=32, clusters=10, seed=3))


def test_index_scaling_reports_exact_recall_for_flat():
    result = speed_search.bench_index_scaling([3_000], n_queries=20, k=4)
    rows = {r["index"].split()[0]: r for r in result["rows"]}
    assert set(rows) == {"flat", "HNSW", "IVF-Flat"}
    assert rows["flat"]["recall@4"] == 1.0
    assert all(0.0 <= r["recall@4"] <= 1.0 and r["p50_ms"] > 0 for r in rows.values())
    text = speed_report.render_markdown({"meta": {"command": "x", "quick": True, "date": "d", "total_s": 1.0,
                                           "machine": {"cpu_model": "c", "usable_cores": 2, "logical_cores": 2,
                                                       "memory_gb": 1, "platform": "p", "python": "3"},
                                           "git": {}, "versions": {}}, "scaling": result})
    assert "## 5. Search latency against index size" in text and "| 3,000 | flat (exact) |" in text


RUN_ALL = BENCH / "run_all.py"


def test_run_all_commands_and_report(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_run_all", RUN_ALL)
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    cmds = run_all.commands(True, tmp_path, ["retrieval", "speed"])
    assert [name for name, _ in cmds] == ["retrieval", "speed"]
    assert cmds[0][1][-3:] == ["--out", str(tmp_path), "--quick"]
    text = run_all.report(
        [{"name": "retrieval", "command": "python r.py", "exit": 0, "seconds": 90.0},
         {"name": "speed", "command": "python s.py", "exit": 1, "seconds": 30.0}], True, "now")
    assert "**2.0 min** in all" in text and "| speed | `python s.py` | 1 | 0.5 | speed.md |" in text
    with pytest.raises(SystemExit):
        run_all.main(["--only", "nonsense"])


class _ScriptedTranscriber:
    """Says the same two sentences over any audio (no model)."""

    def warm_up(self) -> None:
        pass

    def check_language(self, language):
        pass

    def transcribe(self, audio, *, language=None, task="transcribe", progress=None):
        from mediarag.schema import Segment, Transcript

        end = min(audio.duration, 4.0)
        segments = [Segment(start=0.0, end=end / 2, text="Ask not what your country can do.", language="en"),
                    Segment(start=end / 2, end=end, text="Ask what you can do.", language="en")]  # fmt: skip
        return Transcript(source=audio.source, language="en", duration=audio.duration, segments=segments, task=task)


class _HashEmbedder:
    """Unit vectors from the characters of a text (no model)."""

    name = "hash-embedder"
    dimension = 16
    min_score = 0.0

    def warm_up(self) -> None:
        pass

    def embed_passages(self, texts):
        rows = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for j, ch in enumerate(text):
                rows[i, (ord(ch) * 7 + j) % self.dimension] += 1.0
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)

    embed_queries = embed_passages


def test_ingest_steps_time_each_stage_of_the_public_pipeline(tmp_path, data_dir):
    from mediarag import MediaQA
    from mediarag.segment import FixedWindowSegmenter

    qa = MediaQA(tmp_path / "index", transcriber=_ScriptedTranscriber(), segmenter=FixedWindowSegmenter(2.0, 0.0),
                 embedder=_HashEmbedder())  # fmt: skip
    steps, counts = speed_ingest.ingest_steps(qa, data_dir / "jfk.flac")
    # planning and hashing, the pipeline's stages in their order (the default ones included:
    # screen text, nothing in an audio file, and speakers), then the commit
    assert list(steps) == ["hash", "decode", "screen", "transcription", "speakers", "sentences", "segmentation",
                           "embedding", "indexing"]  # fmt: skip
    assert all(v >= 0 for v in steps.values())
    assert counts["segments"] == 2 and counts["sentences"] == 2 and counts["passages"] == 2
    assert counts["duration_s"] == pytest.approx(11.0, abs=0.1) and counts["languages"] == ["en"]
    assert len(qa.store) == 2 and list(qa.sources()) == [str((data_dir / "jfk.flac").resolve())]
    assert speed_ingest.step_medians([steps, steps]) == steps


def test_every_benchmark_script_starts():
    """Each benchmark script's imports still resolve (its --help runs): a refactoring of the
    benchmark core must not leave a script that fails on its first line."""
    import subprocess

    scripts = sorted(p for p in BENCH.glob("*.py") if "__main__" in p.read_text())
    assert len(scripts) > 10
    failed = {}
    for script in scripts:
        run = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            failed[script.name] = run.stderr.strip().splitlines()[-1:]
    assert not failed, failed
