"""Fast checks of benchmarks/speakers_xquad.py's counting and report (no model is loaded)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import speakers_xquad  # noqa: E402


def _file(name: str, labels: list[str], without: int, with_: int, unchanged: int) -> dict:
    return {
        "file": name, "seconds_audio": 1800.0, "speaker_stage_s": 90.0, "labels": labels,
        "label_seconds": {label: 900.0 for label in labels}, "words_per_label": {},
        "sentences": {"without": 10, "with": 10 + len(labels) - 1}, "sentences_shipped": 10,
        "passages": {"without": without, "with": with_}, "passages_unchanged": unchanged, "warnings": [],
    }  # fmt: skip


def test_summary_counts_split_files_and_changed_passages() -> None:
    files = [_file("en/a.ogg", ["SPEAKER_00"], 5, 5, 5), _file("en/b.ogg", ["SPEAKER_00", "SPEAKER_01"], 4, 6, 3)]
    s = speakers_xquad.summary(files)
    assert s["files_multi_label"] == 1 and s["label_counts"] == {1: 1, 2: 1}
    assert (s["passages_new"], s["passages_gone"], s["files_passages_changed"]) == (3, 1, 1)
    assert s["speaker_stage_s_per_hour"] == 180.0 / 1.0


def test_per_question_metrics_follow_the_first_hit_rank() -> None:
    v = speakers_xquad.per_question([1, 3, None, 11])
    assert v["hit@1"].tolist() == [1, 0, 0, 0] and v["hit@5"].tolist() == [1, 1, 0, 0]
    assert v["mrr@10"].tolist() == [1.0, 1 / 3, 0.0, 0.0]


def test_report_lists_split_files_or_says_there_are_none() -> None:
    metric = {"hit@1": 0.5, "hit@1_ci": [0.4, 0.6], "hit@5": 0.9, "hit@5_ci": [0.8, 1.0], "mrr@10": 0.7, "mrr@10_ci": [0.6, 0.8]}
    mode = {"without": metric, "with": metric, "questions_changed": 0,
            "with_minus_without": {m: [0.0, 0.0, 0.0] for m in ("hit@1", "hit@5", "mrr@10")}}  # fmt: skip

    def data(files: list[dict]) -> dict:
        part = {"summary": speakers_xquad.summary(files), "files": files, "retrieval": {"hybrid": mode, "dense": mode}}
        return {"command": "x", "date": "d", "seconds": 1.0, "commit": "c", "load_average": 1.0, "languages": {"en": part}}

    one = speakers_xquad.report(data([_file("en/a.ogg", ["SPEAKER_00"], 5, 5, 5)]))
    assert "None: every file got one label" in one
    split = speakers_xquad.report(data([_file("en/b.ogg", ["SPEAKER_00", "SPEAKER_01"], 4, 6, 3)]))
    assert "| en/b.ogg | SPEAKER_00 900.0, SPEAKER_01 900.0 | 4 / 6 |" in split and "None:" not in split
