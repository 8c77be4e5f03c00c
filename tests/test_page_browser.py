"""The agents' page in real headless Chromium against a real ``reviewer serve`` on 127.0.0.1.

The model is the fake OpenAI-compatible server (tests/fake_llm.py); feedback goes to a real SQLite
file; the exported cases go through ``reviewer eval``. Every step is done from the keyboard (Tab
until the control has the focus, then Enter or typing). Screenshots are written to
``browser.artifacts_dir()`` (``REVIEWER_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser import require_browser, run_axe, screenshot, start_chromium, tab_to, wait_for
from tests.fake_llm import FakeLLM, review_responder
from tests.service_server import ServiceProcess, clean_env

CUSTOMER = "My order #4411 arrived broken and this is the second time I'm writing!"
DRAFT = "I'm sorry you feel that way about order #4411. Per our policy, there is nothing we can do."
GOOD = (
    "I'm sorry that order #4411 arrived broken, and that you had to write to us twice; I understand how "
    "frustrating that is. That's on us. Thank you for your patience. Could you reply with a photo of the "
    "damage so we can sort it out?"
)
POOR = "Sorry for any inconvenience with order #4411. Please contact us again."
KEY = "page-test-key"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.responder = review_responder(rewrite=GOOD)
        yield server


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("feedback") / "feedback.db"


@pytest.fixture(scope="module")
def server(fake: FakeLLM, db: Path) -> Iterator[ServiceProcess]:
    require_browser()
    args = ["--model", "openai/fake-model", "--api-base", fake.base_url, "--api-key", "sk-fake", "--timeout", "20"]
    env = {"REVIEWER_DB": str(db), "REVIEWER_MAX_REWRITE_REASKS": "0", "REVIEWER_MAX_RETRIES": "0"}
    with ServiceProcess(args, env=env) as process:
        yield process


@pytest.fixture(scope="module")
def chrome() -> Iterator[WebDriver]:
    driver = start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def open_page(chrome: WebDriver, url: str) -> None:
    chrome.get(url + "/")
    wait_for(lambda: chrome.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true", what="page")
    chrome.execute_script("sessionStorage.clear()")


def type_into(chrome: WebDriver, element_id: str, text: str) -> None:
    field = tab_to(chrome, element_id)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text)


def verdict(chrome: WebDriver) -> str:
    return str(chrome.find_element(By.ID, "verdict").get_attribute("data-verdict"))


def press(chrome: WebDriver, element_id: str) -> None:
    tab_to(chrome, element_id).send_keys(Keys.ENTER)


def feedback_rows(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM feedback ORDER BY id")]


def rewrite_ready(chrome: WebDriver) -> bool:
    return chrome.find_element(By.ID, "rewrite-result").is_displayed()


def request_rewrite(chrome: WebDriver) -> None:
    press(chrome, "rewrite-button")
    wait_for(lambda: rewrite_ready(chrome), timeout_s=60, what="the rewrite")


def test_a_fake_apology_is_marked_and_blocked_as_you_type(server: ServiceProcess, chrome: WebDriver) -> None:
    open_page(chrome, server.url)
    type_into(chrome, "customer", CUSTOMER)
    type_into(chrome, "draft", DRAFT)
    wait_for(lambda: verdict(chrome) == "block", what="the block chip")
    assert chrome.find_element(By.ID, "verdict").text == "block"
    marks = chrome.find_elements(By.CSS_SELECTOR, "#annotated mark.error")
    assert "sorry you feel" in [m.text.split("\n")[0] for m in marks]
    # The finding and its suggestion show on focus (Tab from the draft reaches the first mark), hidden otherwise.
    assert not marks[0].find_element(By.CSS_SELECTOR, ".tip").is_displayed()
    chrome.switch_to.active_element.send_keys(Keys.TAB)
    mark = chrome.switch_to.active_element
    assert mark.tag_name == "mark"
    tip = mark.find_element(By.CSS_SELECTOR, ".tip")
    assert tip.is_displayed()
    assert "feelings" in tip.text.lower()
    criteria = {li.get_attribute("data-criterion"): li.find_element(By.CSS_SELECTOR, ".state").text
                for li in chrome.find_elements(By.CSS_SELECTOR, "#criteria li")}  # fmt: skip
    assert criteria["no-fake-apology"] == "fail"
    assert set(criteria.values()) <= {"pass", "fail", "abstain", "n/a"} and len(criteria) == 10
    customer = [li.text for li in chrome.find_elements(By.CSS_SELECTOR, "#customer-findings li")]
    assert any("second time" in text for text in customer)
    screenshot(chrome, "page-blocked-draft")


def test_rewrite_accept_reject_edit_then_export_and_eval(
    server: ServiceProcess, chrome: WebDriver, fake: FakeLLM, db: Path, tmp_path: Path
) -> None:
    open_page(chrome, server.url)
    type_into(chrome, "agent-id", "agent-7")
    type_into(chrome, "customer", CUSTOMER)
    type_into(chrome, "draft", DRAFT)
    wait_for(lambda: verdict(chrome) == "block", what="the block chip")

    # 1. A verified rewrite, shown as a word diff with the facts kept; "Use this".
    fake.responder = review_responder(rewrite=GOOD)
    request_rewrite(chrome)
    assert chrome.find_element(By.ID, "rewrite-status").text == "verified"
    inserted = " ".join(e.text for e in chrome.find_elements(By.CSS_SELECTOR, "#rewrite-diff ins"))
    removed = " ".join(e.text for e in chrome.find_elements(By.CSS_SELECTOR, "#rewrite-diff del"))
    assert "on us" in inserted and "Per our policy" in removed
    assert "#4411" not in inserted + removed  # kept, so unchanged in the diff
    diff = chrome.find_element(By.ID, "rewrite-diff")
    assert diff.text.replace("\n", " ").startswith("I'm sorry")
    assert [li.text for li in chrome.find_elements(By.CSS_SELECTOR, "#facts li")] == ["#4411"]
    screenshot(chrome, "page-rewrite-verified")
    press(chrome, "use-button")
    wait_for(lambda: "recorded" in chrome.find_element(By.ID, "feedback-state").text, what="feedback recorded")
    assert chrome.find_element(By.ID, "draft").get_attribute("value") == GOOD
    wait_for(lambda: verdict(chrome) == "send", what="the send chip for the accepted rewrite")
    rows = feedback_rows(db)
    assert [(r["action"], r["agent_id"]) for r in rows] == [("accepted", "agent-7")]
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT review_json FROM reviews WHERE id = ?", (rows[0]["review_id"],)).fetchone()
    assert json.loads(stored[0])["rewrite"]["text"] == GOOD

    # 2. An unverified rewrite, rejected with a reason and the criterion it gets wrong.
    type_into(chrome, "draft", DRAFT)
    fake.responder = review_responder(rewrite=POOR)
    request_rewrite(chrome)
    assert chrome.find_element(By.ID, "rewrite-status").text == "unverified"
    assert chrome.find_elements(By.CSS_SELECTOR, "#rewrite-problems li")
    press(chrome, "reject-button")
    select = chrome.switch_to.active_element
    assert select.get_attribute("id") == "reject-criterion"
    select.send_keys("Apolog")  # keyboard selection of the option by its visible text
    assert select.get_attribute("value") == "apologizes"
    type_into(chrome, "reject-reason", "Still a hollow 'sorry for any inconvenience'.")
    chrome.switch_to.active_element.send_keys(Keys.TAB, Keys.ENTER)  # "Send rejection"
    wait_for(lambda: "recorded" in chrome.find_element(By.ID, "feedback-state").text, what="rejection recorded")

    # 3. The agent edits the rewrite and sends their own text.
    request_rewrite(chrome)
    press(chrome, "edit-button")
    assert chrome.switch_to.active_element.get_attribute("id") == "rewrite-edit"
    type_into(chrome, "rewrite-edit", GOOD)
    press(chrome, "use-edit-button")
    wait_for(lambda: "recorded" in chrome.find_element(By.ID, "feedback-state").text, what="edit recorded")
    rows = feedback_rows(db)
    assert [r["action"] for r in rows] == ["accepted", "rejected", "edited"]
    assert rows[1]["criterion"] == "apologizes" and "hollow" in str(rows[1]["reason"])
    assert rows[2]["edited_text"] == GOOD
    assert len({r["review_id"] for r in rows}) == 3

    # Export: the rejected rewrite must not be 'send'; the edited text is 'send'. Then the rules-only eval.
    cases = tmp_path / "feedback-cases.yaml"
    env = clean_env()
    exported = subprocess.run(
        [sys.executable, "-m", "reviewer", "feedback", "export", "--as", "cases", "--db", str(db), "-o", str(cases)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    written = yaml.safe_load(cases.read_text())
    assert [(c["input"]["draft"], c["expect"]["verdict"]) for c in written] == [
        (POOR, ["revise", "block"]),
        (GOOD, ["send"]),
    ]
    assert written[0]["expect"]["criteria"] == {"apologizes": "fail"}
    assert written[0]["input"]["customer_message"] == CUSTOMER
    out = tmp_path / "eval"
    evaluated = subprocess.run(
        [sys.executable, "-m", "reviewer", "eval", "--model", "rules", "--cases", str(cases), "--out", str(out),
         "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    report = json.loads((out / "report.json").read_text())
    outcomes = {case["id"]: case["passed"] for case in report["cases"]}
    assert outcomes == {f"feedback-{rows[1]['id']}": True, f"feedback-{rows[2]['id']}": True}


def serious(violations: list[dict[str, Any]]) -> list[tuple[str, str, list[Any]]]:
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in violations
            if v["impact"] in ("serious", "critical")]  # fmt: skip


def test_no_serious_accessibility_violations(server: ServiceProcess, chrome: WebDriver, fake: FakeLLM) -> None:
    open_page(chrome, server.url)
    assert serious(run_axe(chrome)) == []  # the empty page
    type_into(chrome, "customer", CUSTOMER)
    type_into(chrome, "draft", DRAFT)
    wait_for(lambda: verdict(chrome) == "block", what="the block chip")
    fake.responder = review_responder(rewrite=GOOD)
    request_rewrite(chrome)
    press(chrome, "reject-button")  # every part of the page showing: findings, checklist, diff, reject form
    assert serious(run_axe(chrome)) == []
    chrome.switch_to.active_element.send_keys(Keys.ESCAPE)  # closes the reject form, focus back on its button
    assert not chrome.find_element(By.ID, "reject-form").is_displayed()
    assert chrome.switch_to.active_element.get_attribute("id") == "reject-button"


def test_readable_at_400_percent_zoom(server: ServiceProcess, chrome: WebDriver) -> None:
    """WCAG reflow: at 400% of a 1280 px window (320 CSS px wide) nothing needs a horizontal scroll."""
    open_page(chrome, server.url)
    type_into(chrome, "customer", CUSTOMER)
    type_into(chrome, "draft", DRAFT)
    wait_for(lambda: verdict(chrome) == "block", what="the block chip")
    chrome.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 320, "height": 256, "deviceScaleFactor": 4, "mobile": False}
    )
    try:
        widths = chrome.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
            " document.getElementById('draft').getBoundingClientRect().right]"
        )
        assert widths[0] <= widths[1], f"horizontal scroll at 320 CSS px: {widths}"
        assert widths[2] <= widths[1]
        screenshot(chrome, "page-400-percent")
    finally:
        chrome.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_asks_for_the_api_key_and_keeps_it_for_the_tab_only(fake: FakeLLM, tmp_path: Path) -> None:
    require_browser()
    env = {"REVIEWER_API_KEYS": f"other-key,{KEY}"}
    with ServiceProcess(["--rules-only"], env=env) as keyed:
        chrome = start_chromium()
        try:
            open_page(chrome, keyed.url)
            wait_for(lambda: chrome.find_element(By.ID, "key-panel").is_displayed(), what="the key prompt")
            assert chrome.switch_to.active_element.get_attribute("id") == "api-key"
            assert serious(run_axe(chrome)) == []
            chrome.switch_to.active_element.send_keys("wrong-key", Keys.ENTER)
            wait_for(lambda: "not valid" in chrome.find_element(By.ID, "key-error").text, what="the key error")
            field = chrome.find_element(By.ID, "api-key")
            field.clear()
            field.send_keys(KEY, Keys.ENTER)
            wait_for(lambda: not chrome.find_element(By.ID, "key-panel").is_displayed(), what="the prompt to close")
            type_into(chrome, "draft", DRAFT)
            wait_for(lambda: verdict(chrome) == "block", what="the block chip with the key")
            stored = chrome.execute_script("return [sessionStorage.getItem('reviewer.apiKey'), localStorage.length]")
            assert stored == [KEY, 0]
            press(chrome, "rewrite-button")  # a rules-only server: says why there is no rewrite
            wait_for(lambda: "No rewrite" in chrome.find_element(By.ID, "rewrite-state").text, what="no rewrite")
            assert "rules only" in chrome.find_element(By.ID, "rewrite-state").text
        finally:
            chrome.quit()
