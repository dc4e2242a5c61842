"""The chat app end to end: `mediarag app` serving a real index, driven in headless Chromium.

The browser is Debian's chromium through its chromidriver (`make system-deps`); Selenium is
pointed at both, so nothing is downloaded. The test uploads a real recording into the
conversation, asks about it, checks the cited source and where the player starts, and saves a
screenshot (to ``$MEDIARAG_APP_SCREENSHOT`` when set: that is how docs/images/app.png is made).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="the app extra is not installed: pip install 'mediarag[app]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")

from selenium.common.exceptions import NoSuchElementException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from mediarag import MediaQA  # noqa: E402
from proc_support import descendants, stop_tree  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium and chromium-driver are not installed (make system-deps)",
)

QUESTION = "Where are old observatories usually located?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir, tiny_en, e5):
    """`mediarag app` over an index of jfk.flac (the uploaded clip is not in it)."""
    root = tmp_path_factory.mktemp("app-e2e")
    index = root / "index"
    assert MediaQA(index, transcriber=tiny_en, embedder=e5).ingest([data_dir / "jfk.flac"]).ok
    port = free_port()
    log = (root / "app.log").open("w")
    command = [
        str(Path(sys.executable).with_name("mediarag")), "app", "--index", str(index), "--port", str(port),
        "--data-dir", str(root / "data"), "--model", "tiny.en",
    ]  # fmt: skip
    env = {**os.environ, "MEDIARAG_PROGRESS": "0"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://localhost:{port}"
    below: set[int] = set()  # the processes mediarag app starts (the Streamlit server)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, (root / "app.log").read_text()
            assert time.monotonic() < deadline, (root / "app.log").read_text()
            time.sleep(0.5)
        below = descendants(process.pid)
        printed = (root / "app.log").read_text()
        assert f"mediarag app: serving {index} at {url}" in printed
        yield url, root
    finally:
        # SIGTERM, as a service manager would send; what outlives mediarag app is killed and reported.
        leftovers = stop_tree(process, below | descendants(process.pid))
        log.close()
    assert not leftovers, f"processes outlived mediarag app: {leftovers}"


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,1000", "--autoplay-policy=no-user-gesture-required", "--mute-audio"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, timeout: float = 120):
    """The first truthy value of ``condition(driver)``; a missing element counts as not yet."""
    return WebDriverWait(driver, timeout, poll_frequency=0.5, ignored_exceptions=(NoSuchElementException,)).until(
        lambda d: condition(d)
    )


def page_text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def test_upload_ask_and_play_the_cited_moment(server, browser, data_dir, tmp_path):
    url, root = server
    browser.get(url)
    wait_for(browser, lambda d: "This conversation" in page_text(d))

    # Upload a real recording into the conversation; it is transcribed with visible progress.
    upload = wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, "section[data-testid='stSidebar'] input[type='file']")
    )
    upload.send_keys(str(data_dir / "fleurs_en_concat.ogg"))
    wait_for(browser, lambda d: "Added fleurs_en_concat.ogg" in page_text(d), timeout=240)
    stored = list((root / "data" / "uploads").iterdir())
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{12}_fleurs_en_concat\.ogg", stored[0].name)

    # Ask about it.
    box = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    box.send_keys(QUESTION)
    box.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: "Sources" in page_text(d), timeout=180)
    text = page_text(browser)
    match = re.search(r"\[1\] fleurs_en_concat\.ogg · (\d\d):(\d\d)-(\d\d):(\d\d)", text)
    assert match, text
    start = int(match[1]) * 60 + int(match[2])
    assert 85 <= start <= 95, text  # the observatories clip is the last of the ten
    assert "cities" in text.lower()

    # Choose the source: the player starts at the cited second.
    play = browser.find_element(By.XPATH, f"//button[contains(., '▶ {match[1]}:{match[2]}')]")
    play.click()
    audio = wait_for(browser, lambda d: d.find_elements(By.TAG_NAME, "audio"))[0]
    wait_for(browser, lambda d: d.execute_script("return arguments[0].readyState", audio) >= 1, timeout=30)
    position = wait_for(
        browser,
        lambda d: (t := d.execute_script("arguments[0].pause(); return arguments[0].currentTime", audio)) >= start and t,
        timeout=30,
    )
    assert start <= position < start + 3, position
    # ... and plays the uploaded file itself.
    src = audio.get_attribute("src")
    assert src.startswith(f"{url}/media/")
    with urllib.request.urlopen(src.split("#")[0], timeout=10) as served:
        assert served.read() == (data_dir / "fleurs_en_concat.ogg").read_bytes()

    shot = tmp_path / "app.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("MEDIARAG_APP_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["MEDIARAG_APP_SCREENSHOT"])
    assert "Traceback" not in page_text(browser)
