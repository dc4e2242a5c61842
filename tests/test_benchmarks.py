"""Fast checks of the helpers in benchmarks/speed.py (nothing here is timed)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("bench_speed", SPEED)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_speed"] = module  # dataclass/annotation lookups need the module registered
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("q", [0, 5, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy(speed, q):
    values = [3.0, 1.0, 4.0, 1.5, 9.0, 2.6, 5.0, 3.5, 8.9, 7.0, 0.2]
    assert speed.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_median_and_summary(speed):
    assert speed.median([5, 1, 3]) == 3
    assert speed.median([4, 1, 3, 2]) == 2.5
    assert speed.median([7.0]) == 7.0
    s = speed.summarize([2.0, 1.0, 3.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)
    with pytest.raises(ValueError):
        speed.percentile([], 50)
    with pytest.raises(ValueError):
        speed.percentile([1.0], 101)


def test_concat_clips_exact_duration_loops_and_gaps(speed):
    rate = 100
    a = np.ones(50, dtype=np.float32)  # 0.5 s
    b = np.full(30, 0.5, dtype=np.float32)  # 0.3 s
    out = speed.concat_clips([a, b], 3.0, gap_seconds=0.2, lead_seconds=0.1, sample_rate=rate)
    assert out.dtype == np.float32 and len(out) == 300
    assert not out[:10].any()  # lead silence
    assert (out[10:60] == 1.0).all() and not out[60:80].any()  # clip a, then a gap
    assert (out[80:110] == 0.5).all() and not out[110:130].any()  # clip b, then a gap
    assert (out[130:180] == 1.0).all()  # looped back to clip a
    with pytest.raises(ValueError):
        speed.concat_clips([np.zeros(0)], 1.0)


@pytest.mark.parametrize("suffix", [".wav", ".ogg"])
def test_build_long_audio_has_the_requested_duration(speed, tmp_path, data_dir, suffix):
    from mediarag.media import decode_audio

    out = tmp_path / f"long{suffix}"
    seconds = speed.build_long_audio([data_dir / "jfk.flac", data_dir / "fleurs-en-000.ogg"], 25.0, out)
    assert seconds == pytest.approx(25.0)
    decoded = decode_audio(out)
    assert decoded.duration == pytest.approx(25.0, abs=0.1)  # Opus may pad a few ms
    assert np.abs(decoded.samples).max() > 0.05  # real speech, not silence


def test_paragraph_passages_and_questions(speed, tmp_path):
    text = "One is here. Two is there! Three? Four."
    passages = speed.paragraph_passages(text)
    assert passages[0] == (0, 4, text)
    assert (0, 1, "One is here.") in passages and (1, 3, "Two is there! Three?") in passages
    assert len(passages) == 1 + 4 + 3 + 2
    data = {"data": [{"paragraphs": [{"context": text, "qas": [{"question": f"q{i}"} for i in range(10)]}]}]}
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    assert speed.xquad_questions(path, 5) == ["q0", "q2", "q4", "q6", "q8"]
    assert speed.xquad_questions(path, 50) == [f"q{i}" for i in range(10)]


def test_results_table_marks_targets(speed):
    results = {"ask": {"passages": 10_000, "questions": 100, "ask_ms": {"median": 12.0, "p95": 30.0}}}
    rows = speed.results_rows(results)
    assert rows[0][-1] == "PASS" and "12.0 ms" in rows[0][1]
    results["ask"]["ask_ms"]["median"] = 80.0
    assert speed.results_rows(results)[0][-1] == "MISS"


def test_synthetic_vectors_are_unit_and_clustered(speed):
    x = speed.synthetic_vectors(2_000, dim=32, clusters=10, seed=3)
    assert x.shape == (2_000, 32) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    nearest = (x[:200] @ x.T)
    np.fill_diagonal(nearest[:, :200], -1.0)
    assert np.median(nearest.max(axis=1)) > 0.9  # each has a close neighbour in its cluster
    assert abs(float(np.median(x[:200] @ x[200:400].T))) < 0.5  # other clusters are far
    assert np.array_equal(x, speed.synthetic_vectors(2_000, dim=32, clusters=10, seed=3))


def test_index_scaling_reports_exact_recall_for_flat(speed):
    result = speed.bench_index_scaling([3_000], n_queries=20, k=4)
    rows = {r["index"].split()[0]: r for r in result["rows"]}
    assert set(rows) == {"flat", "HNSW", "IVF-Flat"}
    assert rows["flat"]["recall@4"] == 1.0
    assert all(0.0 <= r["recall@4"] <= 1.0 and r["p50_ms"] > 0 for r in rows.values())
    text = speed.render_markdown({"meta": {"command": "x", "quick": True, "date": "d", "total_s": 1.0,
                                           "machine": {"cpu_model": "c", "usable_cores": 2, "logical_cores": 2,
                                                       "memory_gb": 1, "platform": "p", "python": "3"},
                                           "git": {}, "versions": {}}, "scaling": result})
    assert "## 5. Search latency against index size" in text and "| 3,000 | flat (exact) |" in text


RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


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
