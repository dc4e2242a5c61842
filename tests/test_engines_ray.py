"""`RayEngine` on a real local Ray cluster (2 CPUs, on loopback, started and stopped here), with
real models (tiny.en, MiniLM) on real audio: the same index as the local path, a worker killed
mid-file, a corrupt file, a re-run, and the command line joining the cluster by its address."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from mediarag import MediaQA, Settings  # noqa: E402
from mediarag.engines import RayEngine  # noqa: E402
from mediarag.store.faiss import FaissStore  # noqa: E402

DATA = Path(__file__).parent / "data"
#: The longest clip (30 s) first: the worker-kill test needs a file that takes a while.
FILES = ("librivox_en_concat.wav", "jfk.flac", "fleurs-en-000.ogg", "fleurs-en-001.ogg")
WORKER_TITLE = "ray::FileWorker.run"


def settings(index: Path) -> Settings:
    return Settings(index_dir=index, whisper_model="tiny.en", embedder_model="all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    """A local Ray cluster of 2 CPUs on 127.0.0.1, owned by this test process; no Ray process
    is left once it is shut down."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, logging_level=logging.WARNING)  # fmt: skip
    address = ray.get_runtime_context().gcs_address
    yield address
    ray.shutdown()
    deadline = time.monotonic() + 30
    while _ray_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _ray_processes(), "Ray processes left after shutdown"


def _ray_processes() -> list[str]:
    """Processes of the cluster this test started (its children: raylet, gcs_server, workers)."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and any(n in args for n in ("raylet", "gcs_server", "ray::")):
            out.append(args)
    return out


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("media")
    for name in FILES:
        shutil.copy(DATA / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def local_index(media: Path, tmp_path_factory: pytest.TempPathFactory) -> FaissStore:
    """The same files through the local path (this process, one after another)."""
    index = tmp_path_factory.mktemp("local") / "index"
    report = MediaQA(settings=settings(index)).ingest([media])
    assert report.ok and len(report.ingested) == len(FILES)
    return FaissStore(index)


def assert_same_index(store: FaissStore, expected: FaissStore) -> None:
    assert store.sources().keys() == expected.sources().keys()
    for source, info in expected.sources().items():
        got = store.sources()[source]
        assert (got.sha256, got.chunks, got.language) == (info.sha256, info.chunks, info.language)
        assert got.duration == pytest.approx(info.duration)
        mine, theirs = store.chunks(source), expected.chunks(source)
        assert [(c.id, c.text) for c in mine] == [(c.id, c.text) for c in theirs]
        assert [t for c in mine for t in (c.start, c.end)] == pytest.approx([t for c in theirs for t in (c.start, c.end)])
        np.testing.assert_allclose(store.vectors(source), expected.vectors(source), atol=1e-4)
        assert store.transcript(source).text == expected.transcript(source).text


def test_ray_indexes_what_the_local_path_indexes_and_a_rerun_skips(
    cluster: str, media: Path, local_index: FaissStore, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    qa = MediaQA(settings=settings(index))
    seen: list[tuple[str, float, float]] = []
    engine = RayEngine()
    report = qa.ingest([media], engine=engine, progress=lambda s, d, t: seen.append((s, d, t)))
    assert report.ok, report.failed
    assert len(report.ingested) == len(FILES) and engine.worker_deaths == 0
    assert_same_index(FaissStore(index), local_index)
    # Progress came from the workers, for every file, up to its end.
    done = {s: d for s, d, t in seen if d >= t > 0}
    assert set(done) == set(local_index.sources())

    again = MediaQA(settings=settings(index)).ingest([media], engine=RayEngine())
    assert again.ok and not again.ingested
    assert sorted(again.skipped) == sorted(local_index.sources())


def test_a_worker_killed_mid_file_loses_and_duplicates_nothing(
    cluster: str, media: Path, local_index: FaissStore, tmp_path: Path
) -> None:
    killed: list[int] = []
    stop = threading.Event()

    def kill_first_busy_worker() -> None:
        while not stop.is_set() and not killed:
            for pid, title in _titles():
                if title.startswith(WORKER_TITLE):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_busy_worker, daemon=True)
    killer.start()
    index = tmp_path / "index"
    try:
        report = MediaQA(settings=settings(index)).ingest([media], engine=RayEngine(max_retries=2))
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen processing a file"
    assert report.ok, report.failed
    assert sorted(i.source for i in report.ingested) == sorted(local_index.sources())
    store = FaissStore(index)
    ids = [c.id for s in store.sources() for c in store.chunks(s)]
    assert len(ids) == len(set(ids)) == sum(i.chunks for i in local_index.sources().values())
    assert_same_index(store, local_index)


def _titles() -> list[tuple[int, str]]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                out.append((int(proc.name), (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")))
            except OSError:
                continue
    return out


def test_a_corrupt_file_fails_alone_with_its_name(cluster: str, media: Path, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(media / "jfk.flac", folder / "jfk.flac")
    bad = folder / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    report = MediaQA(settings=settings(tmp_path / "index")).ingest([folder], engine=RayEngine())
    assert [Path(i.source).name for i in report.ingested] == ["jfk.flac"]
    assert len(report.failed) == 1 and report.failed[0].source == str(bad.resolve())
    assert "broken.mp4" in report.failed[0].error
    assert set(FaissStore(tmp_path / "index").sources()) == {str((folder / "jfk.flac").resolve())}


def test_cli_ingests_on_the_cluster_at_an_address(cluster: str, media: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    env = {**os.environ, "MEDIARAG_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "mediarag.cli", "ingest", str(media / "jfk.flac"), "--index", str(index),
           "--model", "tiny.en", "--engine", "ray", "--ray-address", cluster, "--json"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert [Path(i["source"]).name for i in out["ingested"]] == ["jfk.flac"] and not out["failed"]
    assert len(FaissStore(index).sources()) == 1


def test_engine_settings_are_checked() -> None:
    from mediarag.errors import ConfigError

    with pytest.raises(ConfigError, match="workers"):
        RayEngine(workers=0)
    with pytest.raises(ConfigError, match="max_retries"):
        RayEngine(max_retries=-1)
