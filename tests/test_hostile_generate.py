"""Answers over hostile collections: the same recording indexed twice under different names."""

from __future__ import annotations

import re
import shutil

from mediarag import MediaQA

KENNEDY = "What did Kennedy ask his fellow Americans to do?"


def normalized(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def test_two_copies_of_a_file_do_not_make_the_answer_repeat_itself(tmp_path, data_dir, tiny_en, e5):
    media = tmp_path / "media"
    media.mkdir()
    for name in ("jfk.flac", "inaugural copy.flac"):
        shutil.copyfile(data_dir / "jfk.flac", media / name)
    qa = MediaQA(tmp_path / "index", transcriber=tiny_en, embedder=e5)
    report = qa.ingest([media])
    assert report.ok and len(report.ingested) == 2
    answer = qa.ask(KENNEDY)
    assert answer.grounded
    said = normalized(answer.text)
    assert said.count("ask not what your country can do for you") == 1, answer.text
    # No sentence of the answer is there twice, and only the copy it quotes is cited.
    sentences = [normalized(s) for s in re.split(r"(?<=[.!?])\s+", answer.text) if s.strip()]
    assert len(sentences) == len(set(sentences)), answer.text
    assert len(answer.citations) == 1
