"""``reviewer report``: the scorecard's figures, a self-contained page, and the charts rendered in real Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import FAKE_APOLOGY, GOOD_DRAFT, assert_usage_error, run_cli

from reviewer.batch import scorecard, store

Capsys = pytest.CaptureFixture[str]
CHARTS = ("chart-time", "chart-agents", "chart-criteria", "chart-teams", "chart-findings")
XSS = "<script>alert('draft')</script> I'm sorry you feel that way."


def export(path: Path) -> Path:
    drafts = [FAKE_APOLOGY, GOOD_DRAFT, "Thanks for your patience.", XSS]
    rows = [
        {
            "id": f"t{i}",
            "reply": drafts[i % len(drafts)],
            "customer": "Third time I'm asking!",
            "agent": ["Ana", "Ben", "<b>Chloe</b>"][i % 3],
            "team": ["Shipping", "Billing"][i % 2],
            "created_at": f"2026-03-{1 + i % 20:02d}T09:00:00Z",
        }
        for i in range(60)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def batch_output(capsys: Capsys, tmp_path: Path) -> Path:
    out = tmp_path / "out.jsonl"
    outcome = run_cli(capsys, "batch", str(export(tmp_path / "in.jsonl")), "-o", str(out), "--workers", "1")
    assert outcome.code == 0, outcome
    return out


@pytest.fixture
def report(capsys: Capsys, batch_output: Path, tmp_path: Path) -> Path:
    target = tmp_path / "report.html"
    outcome = run_cli(capsys, "report", str(batch_output), "-o", str(target))
    assert outcome.code == 0, outcome
    return target


def test_figures_match_the_records(batch_output: Path) -> None:
    records: list[dict[str, Any]] = list(store.records(batch_output))
    card = scorecard.build(records)
    assert card.total == 60 and sum(card.verdicts.values()) == 60
    assert card.period == "day" and sum(sum(c.values()) for c in card.by_period.values()) == 60
    ana = next(g for g in card.agents if g.name == "Ana")
    ana_records = [r for r in records if r["agent"] == "Ana"]
    assert ana.replies == len(ana_records)
    assert ana.verdicts["block"] == sum(r["review"]["verdict"] == "block" for r in ana_records)
    criteria = [c for r in ana_records for c in r["review"]["criteria"] if c["status"] == "fail"]
    assert any(not c["decided"] for c in criteria)  # abstentions' fallback fails are there, and not counted:
    for criterion in {c["id"] for c in criteria}:
        assert ana.failed[criterion] == sum(c["id"] == criterion and c["decided"] for c in criteria)
    assert ana.failed["no-fake-apology"] > 0
    assert card.worst[0]["review"]["verdict"] == "block"
    assert [r["review"]["score"] for r in card.worst if r["review"]["verdict"] == "block"] == sorted(
        r["review"]["score"] for r in card.worst if r["review"]["verdict"] == "block"
    )
    top = card.findings[0]
    assert top.count == max(s.count for s in card.findings) and top.examples


def test_periods_widen_with_the_span() -> None:
    from datetime import date

    assert scorecard.choose_period(date(2026, 1, 1), date(2026, 2, 1)) == "day"
    assert scorecard.choose_period(date(2026, 1, 1), date(2026, 9, 1)) == "week"
    assert scorecard.choose_period(date(2024, 1, 1), date(2026, 9, 1)) == "month"
    assert scorecard.parse_time("1767225600") == scorecard.parse_time("2026-01-01T00:00:00Z")
    assert scorecard.parse_time("1767225600000") == scorecard.parse_time("2026-01-01T00:00:00+00:00")
    assert scorecard.parse_time("last tuesday") is None


def test_the_page_is_self_contained_and_escapes_the_data(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    for fetching in ("<script", "src=", "<link", "url(", "@import"):
        assert fetching not in page.lower(), fetching
    assert "&lt;script&gt;alert(&#x27;draft&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;Chloe&lt;/b&gt;" in page
    for chart in CHARTS:
        assert f'id="{chart}"' in page
    assert "I&#x27;m <mark>sorry you feel</mark> that way." in page  # the offending span, highlighted


def test_report_usage_errors(capsys: Capsys, tmp_path: Path) -> None:
    assert_usage_error(run_cli(capsys, "report", str(tmp_path / "nope.jsonl"), "-o", "r.html"), "no such file")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert_usage_error(run_cli(capsys, "report", str(empty), "-o", str(tmp_path / "r.html")), "no reviewed rows")
    other = tmp_path / "other.jsonl"
    other.write_text('{"a": 1}\n', encoding="utf-8")
    assert_usage_error(run_cli(capsys, "report", str(other), "-o", str(tmp_path / "r.html")), "not a reviewer batch")


def test_charts_render_in_headless_chromium(report: Path) -> None:
    from browser import screenshot, start_chromium
    from selenium.webdriver.common.by import By

    driver = start_chromium(1000, 1400)  # skipped without chromium, failed in CI (tests/browser.py)
    try:
        driver.get(report.as_uri())
        shot = screenshot(driver, "scorecard-report")  # the whole page, kept under the artifacts folder
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        for chart_id in CHARTS:
            chart = driver.find_element(By.ID, chart_id)
            assert chart.size["width"] > 100 and chart.size["height"] > 50, (chart_id, chart.size)
            drawn = driver.execute_script(
                "return [...arguments[0].querySelectorAll('rect')]"
                ".filter(r => { const b = r.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length",
                chart,
            )
            assert drawn >= 3, (chart_id, drawn)
        heights = driver.execute_script(
            "return [...document.querySelectorAll('#chart-time rect')].map(r => r.getBoundingClientRect().height)"
        )
        assert max(heights) > 50  # the tallest column is drawn tall, not collapsed
        assert driver.execute_script("return document.querySelectorAll('script').length") == 0
    finally:
        driver.quit()
