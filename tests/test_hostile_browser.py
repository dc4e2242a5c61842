"""In a real browser: an image or a link inside an added document, quoted in an answer, is shown
as text. Nothing is fetched from, and nothing links to, an outside address.

Runs `mediarag app` and headless Chromium with the fixtures of test_app_browser.py.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("streamlit", reason="the app extra is not installed: pip install 'mediarag[app]'")
pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from test_app_browser import browser, page_text, server, wait_for  # noqa: E402, F401

pytestmark = pytest.mark.skipif(
    not ((shutil.which("chromium") or shutil.which("chromium-browser")) and shutil.which("chromedriver")),
    reason="chromium and chromium-driver are not installed (make system-deps)",
)

OUTSIDE = "example.invalid"
IMAGE = f"![x](http://{OUTSIDE}/a.png)"
TAG = f'<img src="http://{OUTSIDE}/b.png">'
LINKS = f"[site](http://{OUTSIDE}/c) www.{OUTSIDE} someone@{OUTSIDE}"


def test_an_image_in_an_added_document_is_shown_not_fetched(server, browser, tmp_path):
    url, _root = server
    notes = tmp_path / "notes.md"
    notes.write_text(f"The launch review is on Friday {IMAGE} {TAG} {LINKS} in room 4B.\n")
    browser.get(url)
    wait_for(browser, lambda d: "This conversation" in page_text(d))
    upload = wait_for(
        browser, lambda d: d.find_element(By.CSS_SELECTOR, "section[data-testid='stSidebar'] input[type='file']")
    )
    upload.send_keys(str(notes))
    wait_for(browser, lambda d: "Added notes.md" in page_text(d), timeout=120)
    box = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid='stChatInputTextArea']"))
    box.send_keys("When is the launch review?")
    box.send_keys(Keys.ENTER)
    wait_for(browser, lambda d: "Sources" in page_text(d), timeout=180)
    text = page_text(browser)
    assert "[1] notes.md" in text
    for written in (IMAGE, TAG, LINKS):  # the answer and its passage, word for word
        assert text.count(written) >= 2, text
    images = [i.get_attribute("src") or "" for i in browser.find_elements(By.TAG_NAME, "img")]
    assert not [s for s in images if OUTSIDE in s]
    links = [a.get_attribute("href") or "" for a in browser.find_elements(By.TAG_NAME, "a")]
    assert not [h for h in links if OUTSIDE in h]
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert not [f for f in fetched if OUTSIDE in f]
