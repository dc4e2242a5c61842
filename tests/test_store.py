"""Tests of the FAISS vector store, on real FAISS indexes in temporary directories."""

from __future__ import annotations

import json
import os
import pickle
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediarag.errors import ConfigError, IndexStoreError
from mediarag.schema import Chunk, Segment, SourceInfo, Transcript
from mediarag.store import FaissStore, VectorStore

ROOT = Path(__file__).resolve().parents[1]
DIM = 16


def make_source(
    name: str, n: int, dim: int = DIM, seed: int = 0
) -> tuple[SourceInfo, Transcript, list[Chunk], np.ndarray]:
    """A source with ``n`` chunks (given out of time order) and random unit vectors."""
    rng = np.random.default_rng(seed)
    starts = rng.permutation(n).astype(float) * 10.0
    chunks = [
        Chunk(id=f"{name}#{i}", source=name, text=f"{name} passage {s}", start=s, end=s + 5.0)
        for i, s in enumerate(starts)
    ]
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    duration = n * 10.0 + 5.0
    transcript = Transcript(
        source=name,
        language="en",
        duration=duration,
        segments=[
            Segment(start=c.start, end=c.end, text=c.text)
            for c in sorted(chunks, key=lambda c: c.start)
        ],
    )
    info = SourceInfo(source=name, sha256="0" * 64, duration=duration, language="en", chunks=n)
    return info, transcript, chunks, vectors


def add(store: FaissStore, name: str, n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    info, transcript, chunks, vectors = make_source(name, n, dim, seed)
    store.add_source(info, transcript, chunks, vectors)
    return vectors


def state(store: FaissStore) -> tuple[int, dict[str, int]]:
    return len(store), {src: len(store.chunks(src)) for src in store.sources()}


def manifest_of(index_dir: Path) -> dict:
    return json.loads((index_dir / "manifest.json").read_bytes())


def referenced_segment_files(index_dir: Path) -> list[str]:
    """The segment files the committed manifest names: vectors, metadata and keyword data."""
    return sorted(
        f"{ref['name']}.{ext}" for ref in manifest_of(index_dir)["segments"] for ext in ("faiss", "json", "terms.npz")
    )


# --------------------------------------------------------------------------- basics


@pytest.mark.parametrize("index_type", ["flat", "hnsw"])
def test_roundtrip_across_reopen(tmp_path: Path, index_type: str) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir, embedder_name="emb", index_type=index_type)
    assert isinstance(store, VectorStore)
    assert len(store) == 0 and store.search(np.ones(DIM)) == [] and not store.has_changes
    va = add(store, "a.mp4", 20, seed=1)
    vb = add(store, "b.mp3", 30, seed=2)
    assert store.has_changes and not index_dir.exists()  # nothing is written before commit
    store.commit()
    assert not store.has_changes and FaissStore.exists(index_dir)

    store = FaissStore(index_dir)
    assert store.index_type == index_type and store.dimension == DIM
    assert store.embedder_name == "emb" and store.index_dir == index_dir
    assert state(store) == (50, {"a.mp4": 20, "b.mp3": 30})
    chunks = store.chunks("b.mp3")
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert store.transcript("a.mp4") == make_source("a.mp4", 20, seed=1)[1]
    assert store.sources()["a.mp4"] == make_source("a.mp4", 20, seed=1)[0]
    original = make_source("b.mp3", 30, seed=2)[2]
    for row in (0, 7, 29):
        hit = store.search(vb[row], k=1)[0]
        assert hit.chunk == original[row] and hit.score == pytest.approx(1.0, abs=1e-5)
    assert store.search(va[3][None, :], k=1)[0].chunk.id == "a.mp4#3"  # shape (1, d)

    assert store.delete_source("a.mp4") == 20 and store.delete_source("nope") == 0
    store.commit()
    store = FaissStore(index_dir)
    assert state(store) == (30, {"b.mp3": 30})
    assert all(h.chunk.source == "b.mp3" for h in store.search(va[3], k=50))
    with pytest.raises(IndexStoreError, match="a.mp4"):
        store.transcript("a.mp4")
    # Only what the current generation refers to is left on disk.
    assert [p.name for p in index_dir.iterdir() if p.is_file() and p.name != ".lock"] == ["manifest.json"]
    assert sorted(p.name for p in (index_dir / "segments").iterdir()) == referenced_segment_files(index_dir)
    assert len(list((index_dir / "transcripts").iterdir())) == 1


def test_min_score_k_and_search_many(tmp_path: Path) -> None:
    store = FaissStore(tmp_path / "idx")
    vectors = add(store, "a", 10)
    query = vectors[0] * 3.0  # not unit length: normalized by the store
    all_hits = store.search(query, k=100)
    assert len(all_hits) == 10
    scores = [h.score for h in all_hits]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(1.0, abs=1e-5)
    threshold = scores[4]
    filtered = store.search(query, k=100, min_score=threshold)
    assert [h.score for h in filtered] == scores[:5]
    assert store.search(query, k=3, min_score=1.1) == []
    batched = store.search_many(vectors[:4], k=3)
    assert batched == [store.search(v, k=3) for v in vectors[:4]]
    with pytest.raises(ConfigError, match="dimension"):
        store.search(np.ones(DIM + 1))


def test_replace_source(tmp_path: Path) -> None:
    store = FaissStore(tmp_path / "idx")
    old = add(store, "a", 5, seed=1)
    add(store, "b", 4, seed=2)
    store.commit()
    store = FaissStore(tmp_path / "idx")
    new = add(store, "a", 3, seed=3)
    assert state(store) == (7, {"a": 3, "b": 4})
    assert store.search(new[1], k=1)[0].score == pytest.approx(1.0, abs=1e-5)
    assert all(h.score < 0.999 for h in store.search(old[0], k=10))
    store.commit()
    assert state(FaissStore(tmp_path / "idx")) == (7, {"a": 3, "b": 4})


def test_hnsw_delete_rebuilds(tmp_path: Path) -> None:
    store = FaissStore(tmp_path / "idx", index_type="hnsw")
    vectors = {name: add(store, name, 40, seed=i) for i, name in enumerate("abc")}
    store.delete_source("b")
    add(store, "a", 40, seed=7)  # replace while a deletion is pending
    assert len(store) == 80
    for name, seed in (("a", 7), ("c", 2)):
        vecs = make_source(name, 40, seed=seed)[3]
        assert store.search(vecs[5], k=1)[0].chunk.id == f"{name}#5"
    assert all(h.chunk.source != "b" for h in store.search(vectors["b"][0], k=80))
    store.commit()
    assert state(FaissStore(tmp_path / "idx")) == (80, {"a": 40, "c": 40})


def test_missing_or_empty_dir_is_an_empty_store(tmp_path: Path) -> None:
    assert not FaissStore.exists(tmp_path / "missing")
    store = FaissStore(tmp_path / "missing" / "deeper")
    assert len(store) == 0 and store.sources() == {} and store.dimension is None
    assert not (tmp_path / "missing").exists()
    store.commit()  # an empty index can be committed, and reopened
    assert FaissStore.exists(tmp_path / "missing" / "deeper")
    store = FaissStore(tmp_path / "missing" / "deeper", dimension=DIM)
    assert store.dimension == DIM and len(store) == 0
    (tmp_path / "empty").mkdir()
    assert len(FaissStore(tmp_path / "empty")) == 0


# --------------------------------------------------------------------------- errors


def test_dimension_mismatch(tmp_path: Path) -> None:
    store = FaissStore(tmp_path / "idx")
    add(store, "a", 3, dim=8)
    store.commit()
    with pytest.raises(IndexStoreError, match=r"dimension 8.*16"):
        FaissStore(tmp_path / "idx", dimension=16)
    assert FaissStore(tmp_path / "idx", dimension=8).dimension == 8
    info, transcript, chunks, _ = make_source("b", 3, dim=8)
    with pytest.raises(ConfigError, match=r"\(3, 9\).*\(3, 8\)"):
        store.add_source(info, transcript, chunks, np.ones((3, 9), np.float32))
    with pytest.raises(ConfigError, match=r"\(2, 8\).*\(3, 8\)"):
        store.add_source(info, transcript, chunks, np.ones((2, 8), np.float32))
    with pytest.raises(ConfigError, match="NaN"):
        store.add_source(info, transcript, chunks, np.full((3, 8), np.nan, np.float32))
    with pytest.raises(ConfigError, match="belongs to"):
        store.add_source(info, transcript, make_source("c", 3, dim=8)[2], np.ones((3, 8)))
    with pytest.raises(ConfigError, match="dimension"):
        FaissStore(tmp_path / "other", dimension=0)
    with pytest.raises(ConfigError, match="index_type"):
        FaissStore(tmp_path / "other", index_type="ivf")
    assert state(store) == (3, {"a": 3})  # failed adds change nothing


def test_embedder_and_index_type_mismatch(tmp_path: Path) -> None:
    store = FaissStore(tmp_path / "idx", embedder_name="model-a")
    add(store, "a", 3)
    store.commit()
    with pytest.raises(IndexStoreError, match=r"model-a.*model-b"):
        FaissStore(tmp_path / "idx", embedder_name="model-b")
    assert FaissStore(tmp_path / "idx").embedder_name == "model-a"
    with pytest.raises(IndexStoreError, match=r"flat.*hnsw"):
        FaissStore(tmp_path / "idx", index_type="hnsw")


def test_corrupt_files_are_named(tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    add(store, "a", 3)
    store.commit()
    manifest = index_dir / "manifest.json"
    good = manifest.read_bytes()
    manifest.write_text("{not json")
    with pytest.raises(IndexStoreError, match="manifest.json"):
        FaissStore(index_dir)
    manifest.write_bytes(good)
    name = json.loads(good)["segments"][0]["name"]
    meta = index_dir / "segments" / f"{name}.json"
    meta_bytes = meta.read_bytes()
    meta.write_text('{"format": "mediarag-faiss-segment"}')
    with pytest.raises(IndexStoreError, match=re.escape(str(meta))):
        FaissStore(index_dir)
    meta.write_bytes(meta_bytes)
    index = index_dir / "segments" / f"{name}.faiss"
    index.write_bytes(index.read_bytes()[:100])  # truncated
    with pytest.raises(IndexStoreError, match=re.escape(str(index))):
        FaissStore(index_dir)
    meta.unlink()
    with pytest.raises(IndexStoreError, match=f"{name}.json"):
        FaissStore(index_dir)


def test_no_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir, index_type="hnsw")
    add(store, "a", 5)
    add(store, "b", 5, seed=1)
    store.commit()
    files = [p for p in index_dir.rglob("*") if p.is_file()]
    assert {p.suffix for p in files if p.name != ".lock"} <= {".json", ".faiss", ".npz"}
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_bytes())
        if path.suffix == ".npz":  # keyword data: plain arrays (an object array needs pickle)
            with np.load(path, allow_pickle=False) as arrays:
                assert all(arrays[name].dtype != object for name in arrays.files)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle used")

    real_load = np.load

    def load_without_pickle(*args: object, **kwargs: object) -> object:
        assert kwargs.get("allow_pickle") is False, "np.load may unpickle"
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "Unpickler", forbidden)
    monkeypatch.setattr(np, "load", load_without_pickle)
    store = FaissStore(index_dir)
    assert state(store) == (10, {"a": 5, "b": 5})
    assert store.transcript("b").source == "b"
    assert store.keyword_search("b passage", k=3)


def test_interrupted_commit_keeps_old_state_and_can_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    add(store, "a", 3)
    store.commit()
    before = sorted(p.name for p in index_dir.rglob("*"))
    add(store, "b", 4, seed=1)
    real_replace = os.replace

    def interrupted(src: object, dst: object) -> None:
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.commit()
    monkeypatch.undo()
    assert sorted(p.name for p in index_dir.rglob("*")) == before  # nothing left behind
    assert state(FaissStore(index_dir)) == (3, {"a": 3})
    assert store.has_changes
    store.commit()
    assert state(FaissStore(index_dir)) == (7, {"a": 3, "b": 4})


# --------------------------------------------------------------------------- search quality


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1, 60),
    dim=st.integers(2, 12),
    k=st.integers(1, 70),
    seed=st.integers(0, 2**32 - 1),
)
def test_search_matches_brute_force(tmp_path: Path, n: int, dim: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    store = FaissStore(tmp_path / "never-written")
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    chunks = [Chunk(id=str(i), source="s", text="t", start=i, end=i) for i in range(n)]
    transcript = Transcript(source="s", language="en", duration=n)
    info = SourceInfo(source="s", sha256="x", duration=n, language="en", chunks=n)
    store.add_source(info, transcript, chunks, vectors)
    query = rng.standard_normal(dim).astype(np.float32)

    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ (query / np.linalg.norm(query))
    expected = np.sort(cosine)[::-1][:k]
    hits = store.search(query, k=k)
    scores = np.array([h.score for h in hits])
    assert len(hits) == min(k, n)
    assert np.all(np.diff(scores) <= 1e-6)  # best first
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    for hit in hits:  # each hit's score is its own cosine
        assert hit.score == pytest.approx(cosine[int(hit.chunk.id)], abs=1e-5)


# --------------------------------------------------------------------------- crash safety

CHILD_PRELUDE = """
import os, sys, signal
import numpy as np
from mediarag.schema import Chunk, SourceInfo, Transcript
from mediarag.store import FaissStore

def big_source(name, n, dim):
    rng = np.random.default_rng(0)
    chunks = [Chunk.model_construct(id=str(i), source=name, text=f"{name} record {i}", start=float(i),
              end=float(i), language=None, original_text=None) for i in range(n)]
    return (SourceInfo(source=name, sha256="x", duration=n, language="en", chunks=n),
            Transcript(source=name, language="en", duration=n), chunks,
            rng.random((n, dim), dtype=np.float32))
"""

# Kills itself just before the N-th file-system step of the commit (fsync, rename, delete, write).
CRASH_AT_STEP = CHILD_PRELUDE + """
import faiss
index_dir, crash_at = sys.argv[1], int(sys.argv[2])
store = FaissStore(index_dir)
store.delete_source("a")
store.add_source(*big_source("c", 50, 16))
calls = 0
def crashing(fn):
    def wrapper(*args, **kwargs):
        global calls
        calls += 1
        if calls == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)
    return wrapper
for mod, name in ((os, "fsync"), (os, "replace"), (os, "unlink"), (faiss, "write_index")):
    setattr(mod, name, crashing(getattr(mod, name)))
store.commit()
print("steps", calls)
"""

# Adds a big source and commits; the parent kills it while the commit runs.
BIG_COMMIT = CHILD_PRELUDE + """
store = FaissStore(sys.argv[1])
store.add_source(*big_source("big", int(sys.argv[2]), int(sys.argv[3])))
print("committing", flush=True)
store.commit()
print("done", flush=True)
"""

OLD_STATE = (7, {"a": 3, "b": 4})


def committed_dir(tmp_path: Path, dim: int = DIM) -> Path:
    pristine = tmp_path / "pristine"
    store = FaissStore(pristine)
    add(store, "a", 3, dim=dim, seed=1)
    add(store, "b", 4, dim=dim, seed=2)
    store.commit()
    return pristine


def run_child(script: str, *args: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def keyword_sources(store: FaissStore, question: str) -> set[str]:
    return {h.chunk.source for h in store.keyword_search(question, k=100_000)}


def check_recovers(index_dir: Path, new_state: tuple[int, dict[str, int]]) -> str:
    """The directory loads as the old or the new state, its keyword index too (the passages of
    the new file are found by their words exactly when its vectors are); a later commit cleans
    up leftovers, keyword files included."""
    store = FaissStore(index_dir)
    got = state(store)
    assert got in (OLD_STATE, new_state)
    assert len(store.search(np.ones(store.dimension or 1), k=2)) == 2
    added = set(new_state[1]) - set(OLD_STATE[1])
    assert keyword_sources(store, "record") == (added if got == new_state else set())
    assert keyword_sources(store, "passage") == {"a", "b"} - ({"a"} if got == new_state and "a" not in new_state[1] else set())
    store.delete_source("b")
    store.commit()
    store = FaissStore(index_dir)
    assert "b" not in keyword_sources(store, "passage")
    stray = [p.name for p in index_dir.rglob("*") if p.name.endswith(".tmp")]
    assert not stray, stray
    segments = sorted(p.name for p in (index_dir / "segments").iterdir())
    assert segments == referenced_segment_files(index_dir)  # only the current generation's, keyword data too
    return "old" if got == OLD_STATE else "new"


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_killed_at_every_commit_step_keeps_last_commit(tmp_path: Path) -> None:
    pristine = committed_dir(tmp_path)
    new_state = (54, {"b": 4, "c": 50})
    seen: list[str] = []
    step = 0
    while True:
        step += 1
        assert step < 40
        index_dir = tmp_path / f"run{step}"
        shutil.copytree(pristine, index_dir)
        child = run_child(CRASH_AT_STEP, index_dir, step)
        out, err = child.communicate(timeout=60)
        if child.returncode == 0:
            assert state(FaissStore(index_dir)) == new_state
            break
        assert child.returncode == -signal.SIGKILL, err
        seen.append(check_recovers(index_dir, new_state))
    # The switch from old to new happens at exactly one step, and never goes back.
    assert seen == sorted(seen, key=["old", "new"].index), seen
    assert "old" in seen and "new" in seen and step > 8, (seen, out)


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_sigkill_during_big_commit_keeps_last_commit(tmp_path: Path) -> None:
    n, dim = 40_000, 1024
    pristine = committed_dir(tmp_path, dim)  # a 160 MB index: its commit takes a noticeable time
    outcomes = []
    rng = random.Random(1234)
    for i, delay in enumerate([0.0, 0.05, 0.2, 0.5]):
        index_dir = tmp_path / f"run{i}"
        shutil.copytree(pristine, index_dir)
        child = run_child(BIG_COMMIT, index_dir, n, dim)
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        assert line == "committing", child.communicate()[1]
        time.sleep(delay + rng.uniform(0, 0.05))
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
        # The old state, or (when the kill came after the manifest switch) the new one.
        new_state = (n + 7, {"a": 3, "b": 4, "big": n})
        outcome = check_recovers(index_dir, new_state)
        assert child.returncode == -signal.SIGKILL or outcome == "new"
        outcomes.append((child.returncode, outcome))
    assert any(code == -signal.SIGKILL and result == "old" for code, result in outcomes), outcomes
