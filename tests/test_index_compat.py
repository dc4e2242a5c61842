"""Indexes written by the previous release (main 5d00147, format 1) open, search, answer and
are upgraded by the next commit; re-ingesting their unchanged files skips them.

The fixtures in tests/data/index-v1* were written by that release's code (see their README) and
are copied before use, so the checked-in files are never changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mediarag import MediaQA, Settings
from mediarag.store import FaissStore

DATA = Path(__file__).parent / "data"
BASE_URL = "https://media.example.org/talks"
FILES = ["jfk.flac", "fleurs-en-000.ogg", "fleurs-en-001.ogg"]


def copy_of(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(DATA / name, target)
    return target


def legacy_vectors() -> dict[str, np.ndarray]:
    """The vectors the HNSW fixture was built with (see tests/data/index-v1/README.md)."""
    rng = np.random.default_rng(5)
    return {name: rng.standard_normal((n, 16)).astype(np.float32) for name, n in (("a", 5), ("b", 7), ("c", 4))}


def test_hnsw_index_of_format_1_opens_searches_and_is_upgraded(tmp_path: Path) -> None:
    index_dir = copy_of("index-v1-hnsw", tmp_path)
    store = FaissStore(index_dir)
    assert store.index_type == "hnsw" and store.embedder_name == "synthetic-16" and store.dimension == 16
    assert {s: i.chunks for s, i in store.sources().items()} == {"b": 7, "c": 4}
    vectors = legacy_vectors()
    for name in ("b", "c"):
        for row in range(len(vectors[name])):
            hit = store.search(vectors[name][row], k=1)[0]
            assert hit.chunk.id == f"{name}#{row}" and hit.score == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(
            store.vectors(name), vectors[name] / np.linalg.norm(vectors[name], axis=1, keepdims=True), atol=1e-5
        )
    assert store.transcript("c").segments[0].text == "c passage 0"
    assert not store.search(vectors["a"][0], k=11) or all(h.chunk.source != "a" for h in store.search(vectors["a"][0], k=11))

    store.delete_source("b")
    store.commit()  # the first commit writes format 2 and removes the format-1 files
    manifest = json.loads((index_dir / "manifest.json").read_bytes())
    assert manifest["version"] == 2
    assert not list(index_dir.glob("index-*.faiss")) and not list(index_dir.glob("meta-*.json"))
    reopened = FaissStore(index_dir)
    assert {s: i.chunks for s, i in reopened.sources().items()} == {"c": 4}
    assert reopened.search(vectors["c"][2], k=1)[0].chunk.id == "c#2"
    assert len(list((index_dir / "transcripts").iterdir())) == 1


@pytest.fixture(scope="module")
def legacy_qa(tmp_path_factory: pytest.TempPathFactory, tiny_en, e5) -> MediaQA:  # noqa: ANN001
    index_dir = copy_of("index-v1", tmp_path_factory.mktemp("compat"))
    return MediaQA(settings=Settings(index_dir=index_dir), transcriber=tiny_en, embedder=e5)


def test_flat_index_of_format_1_answers_with_its_citations(legacy_qa: MediaQA) -> None:
    assert sorted(legacy_qa.sources()) == sorted(f"{BASE_URL}/{name}" for name in FILES)
    answer = legacy_qa.ask("What did Kennedy ask his fellow Americans to do?")
    assert answer.grounded and "ask not what your country" in answer.text.lower()
    citation = answer.citations[0]
    assert citation.source == f"{BASE_URL}/jfk.flac" and citation.kind == "speech" and citation.speaker is None
    assert citation.link.startswith(f"{BASE_URL}/jfk.flac#t=0.0,")
    # passages of format 1 kept no sentences: the moment comes from their text, inside the passage
    assert citation.moment is not None and citation.start <= citation.moment.start < citation.moment.end <= citation.end
    assert "ask not what your country" in legacy_qa.export_transcript(f"{BASE_URL}/jfk.flac", "txt").lower()


def test_unchanged_files_of_a_format_1_index_are_skipped(legacy_qa: MediaQA) -> None:
    before = legacy_qa.sources()
    report = legacy_qa.ingest([str(DATA / name) for name in FILES], base_url=BASE_URL)
    assert report.ok and not report.ingested and sorted(report.skipped) == sorted(before)
    assert legacy_qa.sources() == before
