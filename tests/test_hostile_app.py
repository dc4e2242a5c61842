"""The chat app's server stops with `mediarag app`: on SIGTERM, on Ctrl-C, and when killed.

`mediarag app` runs as a real process on a free port; the Streamlit server it starts is found in
/proc. Every process a test starts is stopped by the test, by pid, whatever happens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("streamlit", reason="the app extra is not installed: pip install 'mediarag[app]'")
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc (Linux)")

from proc_support import alive, descendants, free_port, port_free, stop_tree  # noqa: E402

STOP_WITHIN = 15.0


def start_app(tmp_path, port: int) -> tuple[subprocess.Popen, set[int]]:
    """`mediarag app` serving on ``port``, and the processes below it once it serves."""
    env = {**os.environ, "MEDIARAG_PROGRESS": "0"}
    log = (tmp_path / "app.log").open("w")
    command = [
        sys.executable, "-m", "mediarag.cli", "app", "--index", str(tmp_path / "index"),
        "--port", str(port), "--data-dir", str(tmp_path / "data"), "--model", "tiny.en",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    log.close()
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            stop_tree(process, descendants(process.pid))
            pytest.fail((tmp_path / "app.log").read_text())
        time.sleep(0.3)
    return process, descendants(process.pid)


def wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_mediarag_app_stops_its_server(tmp_path, signum, status):
    port = free_port()
    process, below = start_app(tmp_path, port)
    try:
        assert below, "mediarag app serves through a child process"
        process.send_signal(signum)
        assert process.wait(timeout=STOP_WITHIN) == status
        assert not wait_gone(below, 5), "the Streamlit server outlived mediarag app"
        assert port_free(port)
        assert "Traceback" not in (tmp_path / "app.log").read_text()
    finally:
        stop_tree(process, below)
    # The port can be served again at once (connections of the old server may be in TIME_WAIT).
    process, below = start_app(tmp_path, port)
    assert not stop_tree(process, below)


def test_the_server_stops_when_mediarag_app_is_killed(tmp_path):
    port = free_port()
    process, below = start_app(tmp_path, port)
    try:
        process.kill()  # no chance to clean up: the server must go by itself
        process.wait(timeout=STOP_WITHIN)
        assert not wait_gone(below, STOP_WITHIN), "the Streamlit server outlived a killed mediarag app"
        assert port_free(port)
    finally:
        stop_tree(process, below)
