"""`reviewer check --server URL`: the reviews come from a running `reviewer serve`, which loads a model once."""

from __future__ import annotations

import pytest
from cli_helpers import run_cli
from service_server import ServiceProcess, free_port

from reviewer.models import Review

KEY = "remote-test-key"
DRAFT = "I'm sorry you feel that way. Per our policy, there is nothing we can do."


def test_check_asks_the_server_and_prints_its_review(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    with ServiceProcess(["--rules-only"], env={"REVIEWER_API_KEYS": KEY}) as server:
        monkeypatch.setenv("REVIEWER_SERVER_KEY", KEY)
        outcome = run_cli(capsys, "check", "--server", server.url, "--format", "json", "--rewrite", DRAFT)
        assert outcome.code == 1, outcome.err  # blocked: the exit code is the gate, as with a local review
        review = Review.model_validate_json(outcome.out)
        assert review.verdict == "block" and review.rewrite is not None and review.rewrite.source == "repair"
        assert "/v1/reviews" in server.barrier()

        monkeypatch.setenv("REVIEWER_SERVER_KEY", "wrong-key")
        refused = run_cli(capsys, "check", "--server", server.url, DRAFT)
        assert refused.code == 2 and "answered 401" in refused.err and len(refused.err.strip().splitlines()) == 1


def test_an_unreachable_server_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_SERVER", f"http://127.0.0.1:{free_port()}")
    outcome = run_cli(capsys, "check", DRAFT)
    assert outcome.code == 2 and outcome.out == ""
    assert "cannot reach the review server" in outcome.err and "reviewer serve" in outcome.err
    assert len(outcome.err.strip().splitlines()) == 1
