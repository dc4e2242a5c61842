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
