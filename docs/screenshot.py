"""Regenerate docs/page.png, the README's picture of the agents' page: python docs/screenshot.py

A real `reviewer serve` (rules, plus the fake model server for the rewrite) in headless Chromium,
the same way tests/test_page_browser.py drives it.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selenium.webdriver.common.by import By  # noqa: E402

from tests.browser import start_chromium, wait_for  # noqa: E402
from tests.fake_llm import FakeLLM, review_responder  # noqa: E402
from tests.service_server import ServiceProcess  # noqa: E402
from tests.test_page_browser import CUSTOMER, DRAFT, GOOD  # noqa: E402

SCALE = 0.62

with FakeLLM() as fake:
    fake.responder = review_responder(rewrite=GOOD)
    args = ["--model", "openai/fake-model", "--api-base", fake.base_url, "--api-key", "sk-fake"]
    with ServiceProcess(args, env={"REVIEWER_MAX_REWRITE_REASKS": "0"}) as server:
        chrome = start_chromium(width=1100, height=900)
        try:
            chrome.get(server.url + "/")
            wait_for(lambda: chrome.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")
            chrome.find_element(By.ID, "customer").send_keys(CUSTOMER)
            chrome.find_element(By.ID, "draft").send_keys(DRAFT)
            wait_for(lambda: chrome.find_element(By.ID, "verdict").text == "block")
            chrome.find_element(By.ID, "rewrite-button").click()
            wait_for(lambda: chrome.find_element(By.ID, "rewrite-result").is_displayed(), timeout_s=60)
            chrome.execute_script("document.querySelector('#annotated mark').focus()")  # show one tooltip
            size = chrome.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            shot = chrome.execute_cdp_cmd(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True,
                 "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": SCALE}},
            )  # fmt: skip
        finally:
            chrome.quit()
out = ROOT / "docs" / "page.png"
out.write_bytes(base64.b64decode(shot["data"]))
print(f"{out}: {out.stat().st_size} bytes")
