"""``reviewer batch --model M --model-sample N | --model-when ...`` against the fake model server through litellm."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import FAKE_APOLOGY, GOOD_DRAFT, run_cli
from fake_llm import Fail, FakeLLM, RecordedRequest, Reply, Step, draft_of, model_answer

from reviewer.batch.budget import sample_ids

Capsys = pytest.CaptureFixture[str]
DRAFTS = [FAKE_APOLOGY, GOOD_DRAFT, "Thanks for your patience.", "Per our policy, there is nothing we can do."]
MODEL = "openai/gpt-4o-mini"  # priced in litellm's offline map, so the estimate has a cost


@pytest.fixture(autouse=True)
def _one_call_per_review(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_MAX_REWRITE_REASKS", "0")
    monkeypatch.setenv("REVIEWER_MAX_RETRIES", "0")


def export(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "in.jsonl"
    rows = [{"id": f"m{i}", "reply": DRAFTS[i % len(DRAFTS)], "agent": f"a{i % 2}"} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def batch(capsys: Capsys, fake: FakeLLM, source: Path, out: Path, *flags: str) -> Any:
    return run_cli(
        capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress",
        "--model", MODEL, "--api-base", fake.base_url, *flags,
    )  # fmt: skip


def records(out: Path) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())}


class Tracked:
    """A responder that answers after ``delay_s`` and records how many calls were in flight at once."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Step:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.delay_s)
        with self.lock:
            self.in_flight -= 1
        return Reply(model_answer(draft_of(request) or ""))


def test_model_when_sends_only_the_flagged_rows_within_the_concurrency_limit(
    capsys: Capsys, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    responder = Tracked(delay_s=0.3)
    fake_llm.responder = responder
    out = tmp_path / "out.jsonl"
    outcome = batch(capsys, fake_llm, export(tmp_path, 16), out, "--model-when", "block", "--model-concurrency", "2")
    assert outcome.code == 0, outcome
    by_id = records(out)
    assert len(by_id) == 16
    blocked = {i for i, r in by_id.items() if r["review"]["engine"]["mode"] == "llm"}
    rules_only = {i for i, r in by_id.items() if r["review"]["engine"]["mode"] == "rules"}
    assert blocked and rules_only and blocked | rules_only == set(by_id)
    assert all(by_id[i]["review"]["engine"]["model"] == MODEL for i in blocked)
    assert all(by_id[i]["review"]["verdict"] != "block" for i in rules_only)  # every block went to the model
    sent = {draft_of(r) for r in fake_llm.chat_requests}
    assert sent == {by_id[i]["draft"] for i in blocked} and len(fake_llm.chat_requests) == len(blocked)
    assert responder.peak == 2  # calls overlapped, never more than the limit
    estimate = next(line for line in outcome.err.splitlines() if "estimated" in line)
    assert f"model: {len(blocked)} rows to {MODEL}, at most 2 at once" in estimate
    assert "cost about $" in estimate
    assert f"model: {len(blocked)} rows reviewed by the model (0 degraded" in outcome.err


def test_model_sample_is_fixed_by_id_and_a_rerun_does_not_redo_it(
    capsys: Capsys, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    fake_llm.responder = Tracked(delay_s=0.0)
    source = export(tmp_path, 20)
    out = tmp_path / "out.jsonl"
    assert batch(capsys, fake_llm, source, out, "--model-sample", "3").code == 0
    by_model = {i for i, r in records(out).items() if r["review"]["engine"]["mode"] == "llm"}
    assert by_model == sample_ids([f"m{i}" for i in range(20)], 3)
    assert len(fake_llm.chat_requests) == 3
    outcome = batch(capsys, fake_llm, source, out, "--model-sample", "3")
    assert "20 already in the output, 0 reviewed" in outcome.err and len(fake_llm.chat_requests) == 3


def test_a_failing_model_loses_no_row(capsys: Capsys, fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.responder = lambda request: Fail(500)
    out = tmp_path / "out.jsonl"
    outcome = batch(capsys, fake_llm, export(tmp_path, 8), out, "--model-when", "revise,block")
    assert outcome.code == 0, outcome
    by_id = records(out)
    assert len(by_id) == 8
    degraded = [r for r in by_id.values() if r["review"]["engine"]["degraded"]]
    assert degraded and all(r["review"]["verdict"] in ("revise", "block") for r in degraded)
    assert f"({len(degraded)} degraded to the rules)" in outcome.err


def test_an_unpriced_model_says_the_cost_is_unknown(capsys: Capsys, fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.responder = Tracked(delay_s=0.0)
    out = tmp_path / "out.jsonl"
    outcome = run_cli(
        capsys, "batch", str(export(tmp_path, 4)), "-o", str(out), "--workers", "1", "--no-progress",
        "--model", "openai/no-such-model-anywhere", "--api-base", fake_llm.base_url, "--model-sample", "1",
    )  # fmt: skip
    assert outcome.code == 0, outcome
    assert "cost unknown (litellm's price map has no price for this model)" in outcome.err
