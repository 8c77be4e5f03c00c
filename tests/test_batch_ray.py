"""``reviewer batch --engine ray`` on a local Ray instance gives the same reviews as the single-machine run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import FAKE_APOLOGY, GOOD_DRAFT, assert_usage_error, run_cli

from reviewer.batch import store

Capsys = pytest.CaptureFixture[str]
DRAFTS = [FAKE_APOLOGY, GOOD_DRAFT, "Thanks for your patience.", "Per our policy, there is nothing we can do."]


def _ray_or_skip() -> None:
    try:
        import ray.data  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install reviewer[cluster] (.ci/run does)")
        pytest.skip("Ray is not installed (pip install '.[cluster]')")


def comparable(path: Path) -> dict[str, dict[str, Any]]:
    """Records by id, without what differs by engine on purpose: timing, and where the row was read."""
    out = {}
    for record in store.records(path):
        record["review"]["engine"].pop("latency_ms")
        for where in ("source", "row"):
            record.pop(where)
        out[record["id"]] = record
    return out


def test_ray_and_local_runs_give_identical_reviews(capsys: Capsys, tmp_path: Path) -> None:
    _ray_or_skip()
    source = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": f"y{i}", "reply": DRAFTS[i % 4], "customer": "Again?!" if i % 3 else None,
                    "agent": f"a{i % 5}", "team": "t", "channel": "chat", "created_at": "2026-05-01"})
        for i in range(80)
    ]  # fmt: skip
    lines[10] = "{broken"
    lines[20] = json.dumps({"id": "empty", "reply": "   "})
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    local = tmp_path / "local.jsonl"
    on_ray = tmp_path / "ray.jsonl"
    first = run_cli(capsys, "batch", str(source), "-o", str(local), "--workers", "1", "--no-progress")
    second = run_cli(capsys, "batch", str(source), "-o", str(on_ray), "--engine", "ray", "--workers", "2",
                     "--no-progress")  # fmt: skip
    assert first.code == second.code == 1  # two bad rows each
    assert on_ray.is_dir() and "78 reviewed, 2 bad (skipped), on Ray" in second.err
    assert "invalid JSON" in second.err and "no draft in column 'reply'" in second.err
    expected = comparable(local)
    assert len(expected) == 78
    assert comparable(on_ray) == expected


def test_ray_refuses_what_it_cannot_do(capsys: Capsys, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"reply": GOOD_DRAFT}) + "\n", encoding="utf-8")
    out = str(tmp_path / "o.jsonl")
    outcome = run_cli(capsys, "batch", str(source), "-o", out, "--engine", "ray", "--model-when", "block")
    assert_usage_error(outcome, "--engine ray runs the rules review only")
    _ray_or_skip()
    assert_usage_error(run_cli(capsys, "batch", str(source), "-o", out, "--engine", "ray"), "needs an id column")
