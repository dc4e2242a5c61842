"""`GuardedStore`: searches from many threads while another store commits to the same index and
the guarded one takes the commits in; and the `ReadWriteLock` it stands on."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np

from mediarag.schema import Chunk, SourceInfo, Transcript
from mediarag.store import FaissStore
from mediarag.store.guarded import GuardedStore, ReadWriteLock

DIM = 16


def add(store: FaissStore, name: str, vectors: np.ndarray) -> None:
    chunks = [Chunk(id=f"{name}-{i}", source=name, start=float(i), end=i + 1.0, text=f"{name} {i}") for i in range(len(vectors))]
    info = SourceInfo(source=name, sha256=name.ljust(64, "0")[:64], duration=len(vectors) + 1.0, language="en", chunks=len(vectors))
    store.add_source(info, Transcript(source=name, language="en", duration=len(vectors) + 1.0), chunks, vectors)


def test_searches_never_fail_or_see_half_a_commit(tmp_path):
    rng = np.random.default_rng(0)
    writer = FaissStore(tmp_path, embedder_name="test")
    add(writer, "file-000", rng.standard_normal((5, DIM)).astype(np.float32))
    writer.commit()
    reader = GuardedStore(FaissStore(tmp_path, embedder_name="test"))
    errors: list[BaseException] = []
    seen: list[set[str]] = []
    stop = threading.Event()

    def search(seed: int) -> None:
        local = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                hits = reader.search(local.standard_normal(DIM).astype(np.float32), k=1000)
                files = {h.chunk.source for h in hits}
                # every file is whole: all 5 of its passages or none
                assert all(sum(h.chunk.source == f for h in hits) == 5 for f in files), files
                seen.append(files)
                reader.sources()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=search, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often: a search meets a change half made
    try:
        commit_while_searching(writer, reader, rng)
    finally:
        sys.setswitchinterval(switch)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(seen) > 5
    assert set(reader.sources()) == set(writer.sources()) and len(reader) == len(writer)


def commit_while_searching(writer: FaissStore, reader, rng: np.random.Generator) -> None:
    for n in range(1, 20):  # commits (merges, deletes) while the readers search
        add(writer, f"file-{n:03d}", rng.standard_normal((5, DIM)).astype(np.float32))
        if n % 2 == 0:
            writer.delete_source(f"file-{n - 1:03d}")
        writer.commit()
        reader.refresh()
        time.sleep(0.002)


def test_read_write_lock():
    lock = ReadWriteLock()
    order: list[str] = []
    with lock.reading(), lock.reading():  # readers share
        order.append("two readers")
    with lock.writing(), lock.writing(), lock.reading():  # re-entrant for the writer
        order.append("writer")
    held = threading.Event()
    release = threading.Event()

    def reader() -> None:
        with lock.reading():
            held.set()
            release.wait(5)

    t = threading.Thread(target=reader)
    t.start()
    held.wait(5)
    got = []
    w = threading.Thread(target=lambda: (lock.writing().__enter__(), got.append("writer in")))
    w.start()
    time.sleep(0.1)
    assert got == []  # the writer waits for the reader
    release.set()
    t.join()
    w.join(5)
    assert got == ["writer in"] and order == ["two readers", "writer"]
