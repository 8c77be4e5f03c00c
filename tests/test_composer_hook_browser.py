"""The composer hook (integrations/composer-hook) on its sample help-desk page, in real headless Chromium.

The sample page is served from one origin (a static file server on 127.0.0.1) and the reviewer
service runs as a real process on another, so the hook's cross-origin call, the service's
REVIEWER_CORS_ORIGINS and the API key are all exercised as they would be in a help desk.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser import require_browser, screenshot, start_chromium, wait_for
from tests.service_server import ServiceProcess

HOOK_DIR = Path(__file__).resolve().parent.parent / "integrations" / "composer-hook"
KEY = "helpdesk-key"
FAKE = "I'm sorry you feel that way. Per our policy, there is nothing we can do."
GOOD = (
    "I'm sorry that order #4411 arrived broken, and that you had to write to us twice; I understand how "
    "frustrating that is. That's on us. Thank you for your patience. Could you reply with a photo of the "
    "damage so we can sort it out?"
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def helpdesk() -> Iterator[str]:
    """The sample help-desk page's origin: a static file server for integrations/composer-hook."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HOOK_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def chrome() -> Iterator[WebDriver]:
    require_browser()
    driver = start_chromium(width=1000, height=700)
    try:
        yield driver
    finally:
        driver.quit()


def status(chrome: WebDriver) -> str:
    return str(chrome.find_element(By.CSS_SELECTOR, ".reviewer-hook").text)


def open_sample(chrome: WebDriver, helpdesk: str, service: str) -> None:
    chrome.get(f"{helpdesk}/example.html?{urlencode({'service': service, 'key': KEY})}")
    wait_for(lambda: chrome.find_elements(By.CSS_SELECTOR, ".reviewer-hook"), what="the hook's status line")


def test_the_hook_shows_the_verdict_and_holds_send_on_block(helpdesk: str, chrome: WebDriver) -> None:
    env = {"REVIEWER_API_KEYS": KEY, "REVIEWER_CORS_ORIGINS": helpdesk}
    with ServiceProcess(["--rules-only"], env=env) as service:
        open_sample(chrome, helpdesk, service.url)
        reply = chrome.find_element(By.ID, "reply")
        reply.send_keys(FAKE)
        wait_for(lambda: status(chrome).startswith("Reviewer: block"), what="the block verdict")
        assert "sorry you feel" in status(chrome)
        assert reply.get_attribute("data-reviewer-verdict") == "block"
        assert not chrome.find_element(By.ID, "send").is_enabled()
        screenshot(chrome, "composer-hook-block")
        reply.send_keys(Keys.CONTROL, "a")
        reply.send_keys(GOOD)
        wait_for(lambda: status(chrome) == "Reviewer: send", what="the send verdict")
        assert chrome.find_element(By.ID, "send").is_enabled()


def test_a_help_desk_origin_the_service_does_not_list_is_refused_by_the_browser(
    helpdesk: str, chrome: WebDriver
) -> None:
    with ServiceProcess(["--rules-only"], env={"REVIEWER_API_KEYS": KEY}) as service:
        open_sample(chrome, helpdesk, service.url)
        chrome.find_element(By.ID, "reply").send_keys(FAKE)
        wait_for(lambda: "not reachable" in status(chrome), what="the CORS refusal")
        assert chrome.find_element(By.ID, "send").is_enabled()
