"""The index with many writers: real processes committing at once, commits that write only what
changed, merges, a lost manifest or transcript, a failed commit, readers that refresh."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mediarag.errors import IndexStoreError
from mediarag.store import FaissStore
from mediarag.store.layout import MERGE_FACTOR
from mediarag.store.repair import repair_index

from test_store import DIM, add, make_source, referenced_segment_files, state

ROOT = Path(__file__).resolve().parents[1]

# Each writer adds its own sources, one commit each, after all writers are ready.
WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from test_store import add
from mediarag.store import FaissStore
index_dir, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
go = Path(index_dir).with_name("go")
while not go.exists():
    time.sleep(0.01)
store = FaissStore(index_dir)
for i in range(count):
    add(store, f"{name}-{i}", 3 + i % 4, seed=i)
    store.commit()
    print(f"{name}-{i}", flush=True)
"""


def spawn(script: str, *args: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize("writers", [2, 4])
def test_processes_writing_at_once_lose_nothing(tmp_path: Path, writers: int) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    add(store, "before", 5)
    store.commit()
    children = [spawn(WRITER, index_dir, f"w{n}", 6, ROOT / "tests") for n in range(writers)]
    time.sleep(1.0)  # let every writer import and wait
    (tmp_path / "go").touch()
    reported = []
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err
        reported += out.split()
    assert len(reported) == 6 * writers
    final = FaissStore(index_dir)
    assert sorted(final.sources()) == sorted(reported + ["before"])
    for source in reported:  # every file whole: its passages, vectors and transcript
        assert len(final.chunks(source)) == final.sources()[source].chunks
        assert final.transcript(source).source == source
    assert sorted(p.name for p in (index_dir / "segments").iterdir()) == referenced_segment_files(index_dir)
    # Every file is in the keyword index too, each passage once.
    found = final.keyword_search("passage", k=100_000)
    assert sorted({h.chunk.source for h in found}) == sorted(final.sources()) and len(found) == len(final)
    # The reader that was open all along sees them after a refresh, and keeps its own changes.
    add(store, "mine", 2)
    assert store.refresh() and len(store.sources()) == 6 * writers + 2 and store.has_changes
    assert {h.chunk.source for h in store.keyword_search("passage", k=100_000)} == set(store.sources())
    store.commit()
    assert len(FaissStore(index_dir).sources()) == 6 * writers + 2


def test_a_commit_writes_only_the_new_file(tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    for i in range(20):
        add(store, f"big-{i}", 500, dim=DIM, seed=i)  # 10,000 passages
    store.commit()
    before = {p: p.stat().st_mtime_ns for p in index_dir.rglob("*") if p.is_file()}
    size = sum(p.stat().st_size for p in before)
    add(store, "small", 3, seed=99)
    store.commit()
    written = [p for p in index_dir.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime_ns]
    volume = sum(p.stat().st_size for p in written)
    assert volume < 0.01 * size, (volume, size, [p.name for p in written])
    assert state(FaissStore(index_dir))[0] == 10_003


def test_merges_keep_few_segments_and_exact_search(tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    vectors = {}
    for i in range(3 * MERGE_FACTOR + 3):
        vectors[f"s{i}"] = add(store, f"s{i}", 4, seed=i)
        store.commit()
        assert store.segments < 2 * MERGE_FACTOR
    for i in range(0, 3 * MERGE_FACTOR, 2):  # replace half: old segments lose most of their files
        vectors[f"s{i}"] = add(store, f"s{i}", 4, seed=1000 + i)
        store.commit()
    reopened = FaissStore(index_dir)
    assert reopened.segments <= store.segments < 2 * MERGE_FACTOR
    assert state(reopened) == state(store)
    everything = np.vstack([reopened.vectors(s) for s in reopened.sources()])
    query = np.random.default_rng(7).standard_normal(DIM).astype(np.float32)
    query /= np.linalg.norm(query)
    expected = np.sort(everything @ query)[::-1][:10]
    got = [h.score for h in reopened.search(query, k=10)]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for source, vecs in vectors.items():
        assert reopened.search(vecs[2], k=1)[0].chunk.source == source


def test_lost_manifest_is_refused_then_repaired(tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    add(store, "a", 3)
    store.commit()
    add(store, "b", 4, seed=1)
    store.commit()
    files = sorted(str(p) for p in index_dir.rglob("*") if p.is_file())
    (index_dir / "manifest.json").unlink()
    with pytest.raises(IndexStoreError, match=r"no manifest\.json.*mediarag repair"):
        FaissStore(index_dir)
    with pytest.raises(IndexStoreError, match="manifest"):  # a writer opened before cannot commit
        add(store, "c", 1)
        store.commit()
    assert sorted(str(p) for p in index_dir.rglob("*") if p.is_file() and p.name != "manifest.json") == [
        f for f in files if not f.endswith("manifest.json")
    ]  # nothing was deleted
    message = repair_index(index_dir)
    assert "rebuilt" in message and "2 files" in message
    assert state(FaissStore(index_dir)) == (7, {"a": 3, "b": 4})
    assert "nothing to repair" in repair_index(index_dir)


def test_lost_transcript_is_named_and_the_index_goes_on(tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    add(store, "a", 3)
    add(store, "b", 2, seed=1)
    store.commit()
    segment = json.loads(next((index_dir / "segments").glob("*.json")).read_bytes())
    sha = next(s["transcript"] for s in segment["sources"] if s["info"]["source"] == "a")
    (index_dir / "transcripts" / f"{sha}.json").unlink()
    store = FaissStore(index_dir)
    assert not store.has_transcript("a") and store.has_transcript("b")
    with pytest.raises(IndexStoreError, match=r"transcript of a is missing.*ingest the file again"):
        store.transcript("a")
    add(store, "c", 2, seed=2)
    store.commit()  # later commits are not held up by it
    add(store, "a", 3)  # ingesting it again restores it
    store.commit()
    assert FaissStore(index_dir).transcript("a").source == "a"


def test_failed_commit_leaves_no_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    add(store, "a", 3)
    store.commit()
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:  # the file system reports the full disk when data is flushed
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".seg-"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    add(store, "failed", 4, seed=1)
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(IndexStoreError, match="No space left"):
        store.commit()
    monkeypatch.undo()
    assert store.has_changes  # still pending: the caller decides
    store.rollback()
    assert not store.has_changes and "failed" not in store.sources()
    add(store, "next", 2, seed=2)
    store.commit()
    assert sorted(FaissStore(index_dir).sources()) == ["a", "next"]
    assert not [p for p in index_dir.rglob("*") if p.name.endswith(".tmp")]


HOLD_LOCK = """
import sys, time
from mediarag.files import exclusive_lock
with exclusive_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_writer_that_holds_the_lock_too_long_is_named(tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir, lock_timeout=0.5)
    add(store, "a", 2)
    store.commit()
    holder = spawn(HOLD_LOCK, index_dir / ".lock")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        add(store, "b", 2, seed=1)
        with pytest.raises(IndexStoreError, match=rf"another process is committing.*{holder.pid}"):
            store.commit()
    finally:
        holder.kill()
        holder.communicate()
    store.commit()  # the lock goes with the process that held it
    assert sorted(FaissStore(index_dir).sources()) == ["a", "b"]


def test_manifest_names_its_segments_and_tombstones(tmp_path: Path) -> None:
    index_dir = tmp_path / "idx"
    store = FaissStore(index_dir)
    add(store, "a", 3)
    add(store, "b", 3, seed=1)
    add(store, "keep", 3, seed=5)
    store.commit()
    store.delete_source("a")
    store.commit()
    manifest = json.loads((index_dir / "manifest.json").read_bytes())
    assert manifest["version"] == 2 and [s["deleted"] for s in manifest["segments"]] == [["a"]]
    info, transcript, chunks, vectors = make_source("b", 2, seed=3)
    store.add_source(info, transcript, chunks, vectors)
    store.commit()  # b replaced: the first segment now serves only "keep", so it is rewritten
    manifest = json.loads((index_dir / "manifest.json").read_bytes())
    assert all(not s["deleted"] for s in manifest["segments"])
    assert state(FaissStore(index_dir)) == (5, {"keep": 3, "b": 2})
