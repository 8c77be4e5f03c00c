"""Real headless Chromium for the page tests: Debian's ``chromium`` and ``chromium-driver``, driven by Selenium.

Nothing is downloaded: Selenium is pointed at the installed browser and driver (``.ci/run`` installs
them). ``CHROMIUM`` / ``CHROMEDRIVER`` override the paths. Screenshots go to ``artifacts_dir()``
(``REVIEWER_TEST_ARTIFACTS``, else a folder under the system temp dir), named after the test.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

AXE = Path(__file__).parent / "assets" / "axe-core" / "axe.min.js"
T = TypeVar("T")


def browser_paths() -> tuple[str, str] | None:
    browser = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def require_browser() -> tuple[str, str]:
    """The browser and driver paths; skips the test without them, fails it when REVIEWER_REQUIRE_BROWSER=1 (CI)."""
    paths = browser_paths()
    if paths is None:
        why = "no chromium + chromedriver (apt-get install chromium chromium-driver; .ci/run installs them)"
        if os.environ.get("REVIEWER_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return paths


def start_chromium(width: int = 1280, height: int = 1000) -> WebDriver:
    browser, driver = require_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--disable-background-networking",  # no traffic but ours
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    chrome.set_script_timeout(60)
    return chrome


def wait_for(condition: Callable[[], T | None], timeout_s: float = 20.0, what: str = "condition") -> T:
    """Poll until ``condition()`` is truthy; its value. AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # an element not there yet, a stale one
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def tab_to(chrome: WebDriver, element_id: str, limit: int = 80) -> WebElement:
    """Press Tab until the element with ``element_id`` has the focus: it is reachable by keyboard alone."""
    for _ in range(limit):
        active = chrome.switch_to.active_element
        if active.get_attribute("id") == element_id:
            return active
        active.send_keys(Keys.TAB)
    raise AssertionError(f"#{element_id} was not reached with {limit} presses of Tab")


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("REVIEWER_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "reviewer-page-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(chrome: WebDriver, name: str) -> Path:
    """A full-page PNG (the page's own height) under ``artifacts_dir()``."""
    path = artifacts_dir() / f"{name}.png"
    metrics = chrome.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = chrome.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}},
    )  # fmt: skip
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def run_axe(chrome: WebDriver) -> list[dict[str, Any]]:
    """Run the vendored axe-core in the page; its violations (WCAG 2.x A/AA and best practices)."""
    chrome.execute_script(AXE.read_text(encoding="utf-8"))
    result = chrome.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',"
        " 'wcag22aa', 'best-practice']}}).then(r => done(r.violations), e => done({error: String(e)}));"
    )
    assert isinstance(result, list), f"axe did not run: {result!r}"
    return result
