"""`reviewer check --model openai/anything --api-base http://127.0.0.1:PORT/v1` end to end against the fake server."""

from __future__ import annotations

import json

import pytest
from fake_llm import Fail, FakeLLM, review_responder

from reviewer.cli import main

DRAFT = "We're sorry your order #4411 arrived late. Thank you for your patience; what would help most?"
GOOD = (
    "I'm sorry we delivered order #4411 late; that's on us, and I know how frustrating the wait has been when "
    "you needed it. Thank you for your patience; what would help most?"
)


def test_check_with_a_model_prints_the_rewrite_and_its_status(
    fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_llm.responder = review_responder(rewrite=GOOD)
    code = main(["check", "--text", DRAFT, "--model", "openai/anything", "--api-base", fake_llm.base_url,
                 "--format", "json"])
    assert code == 0
    review = json.loads(capsys.readouterr().out)
    review = review[0] if isinstance(review, list) else review
    assert review["engine"]["mode"] == "llm" and review["engine"]["model"] == "openai/anything"
    assert review["rewrite"] == {"text": GOOD, "status": "verified", "problems": [], "attempts": 1, "source": "model",
                                 "reason": "the model's rewrite passed every check", "placeholders": [],
                                 "facts_kept": ["#4411"]}
    assert fake_llm.chat_requests[0].model == "anything"

    fake_llm.responder = review_responder(rewrite=GOOD + " A full refund is on its way.")
    main(["check", "--text", DRAFT, "--model", "openai/anything", "--api-base", fake_llm.base_url])
    out = capsys.readouterr().out
    assert "unverified" in out and "refund" in out and "A full refund is on its way." in out


def test_check_with_a_dead_model_says_degraded(fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    fake_llm.responder = lambda request: Fail(500)
    code = main(["check", "--text", DRAFT, "--model", "openai/anything", "--api-base", fake_llm.base_url,
                 "--format", "json"])
    assert code == 0
    review = json.loads(capsys.readouterr().out)
    review = review[0] if isinstance(review, list) else review
    assert review["engine"]["degraded"] is True and review["rewrite"] is None


def test_real_rules_catch_a_rewrite_that_keeps_the_fake_apology(
    fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_llm.responder = review_responder(rewrite="I'm sorry you feel that way about order #4411. Thanks.")
    main(["check", "--text", DRAFT, "--model", "openai/anything", "--api-base", fake_llm.base_url, "--format", "json"])
    review = json.loads(capsys.readouterr().out)
    review = review[0] if isinstance(review, list) else review
    assert review["rewrite"]["status"] == "unverified" and review["rewrite"]["attempts"] == 3  # 2 re-asks
    assert any(p.startswith("no-fake-apology (\"sorry you feel") for p in review["rewrite"]["problems"])
    fix = fake_llm.chat_requests[1].messages[-1]["content"]
    assert fix.startswith("Your rewrite did not pass these checks") and "no-fake-apology" in fix
