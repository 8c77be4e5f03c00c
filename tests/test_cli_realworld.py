"""``reviewer check`` over a folder of real support replies (../shared/realworld, beside the repository)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import run_cli

from reviewer.models import Review

REALWORLD = Path(__file__).resolve().parents[1].parent / "shared" / "realworld" / "twcs_amazon_replies.jsonl"
pytestmark = pytest.mark.skipif(not REALWORLD.is_file(), reason=f"real-world replies not found at {REALWORLD}")

Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def replies(tmp_path: Path) -> dict[str, str]:
    """40 real replies, one file each (names sort in file order)."""
    records = [json.loads(line) for line in REALWORLD.read_text(encoding="utf-8").splitlines()[:40]]
    files = {}
    for index, record in enumerate(records):
        path = tmp_path / f"{index:03d}-{record['id']}.txt"
        path.write_text(record["reply"], encoding="utf-8")
        files[str(path)] = record["reply"]
    return files


def test_json_lines_one_review_per_reply(capsys: Capsys, replies: dict[str, str], tmp_path: Path) -> None:
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "json", "--fail-on", "never", str(tmp_path))
    assert outcome.code == 0
    records = [json.loads(line) for line in outcome.out.splitlines()]
    assert [r["path"] for r in records] == sorted(replies)
    for record in records:
        review = Review.model_validate(record["review"])
        draft = replies[record["path"]]
        for finding in review.findings:
            if finding.span is not None and finding.span.source == "draft":
                assert draft[finding.span.start : finding.span.end] == finding.span.text


def test_lines_point_at_the_span_text(capsys: Capsys, replies: dict[str, str], tmp_path: Path) -> None:
    """Each ``path:line:col`` names the place in the file where the finding's span text starts."""
    as_json = run_cli(capsys, "check", "--rules-only", "--format", "json", str(tmp_path))
    spans: dict[tuple[str, str], set[str]] = {}
    for line in as_json.out.splitlines():
        record = json.loads(line)
        for finding in Review.model_validate(record["review"]).findings:
            if finding.span is not None and finding.span.source == "draft":
                spans.setdefault((record["path"], finding.rule_id), set()).add(finding.span.text.split("\n")[0])
    assert spans, "no finding with a span in 40 real replies"
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "lines", str(tmp_path))
    checked = 0
    for line in outcome.out.splitlines():
        location, rule = line.split(": ", 1)[0], line.rsplit("[", 1)[1].rstrip("]")
        path, line_no, column = location.rsplit(":", 2)
        if (path, rule) not in spans:
            continue
        text_line = replies[path].split("\n")[int(line_no) - 1]
        assert any(text_line[int(column) - 1 :].startswith(text) for text in spans[(path, rule)]), line
        checked += 1
    assert checked >= len(spans)
