"""The LLM reviewer through the real litellm path to the fake server: what it does when the model misbehaves."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fake_llm import Fail, FakeLLM, Reply, model_answer
from llm_helpers import fast_settings, phrase_rules

from reviewer import engine, rules
from reviewer.models import Context, ReviewRequest

DRAFT = "I'm sorry we shipped the wrong size on order #12345. Thank you for telling us; what would help most?"


@pytest.fixture(autouse=True)
def _phrase_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "run", phrase_rules)


def request_for(draft: str = DRAFT, **kwargs: Any) -> ReviewRequest:
    return ReviewRequest(draft=draft, customer_message="You sent the wrong size again!", **kwargs)


async def test_valid_review_records_engine_metadata(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT, quotes={"apologizes": ["sorry we shipped the wrong size"]}))
    review = await engine.areview(request_for(), fast_settings(fake_llm))

    assert review.engine.mode == "llm" and not review.engine.degraded
    assert review.engine.model == "openai/primary"
    assert review.engine.prompt_version == "review@v1"
    assert (review.engine.attempts, review.engine.reasks, review.engine.fallbacks_used) == (1, 0, 0)
    assert review.engine.usage.prompt_tokens == 100 and review.engine.usage.total_tokens == 150
    assert review.engine.usage.cost_usd is None  # litellm has no price for an unknown model
    assert review.rewrite is not None and review.rewrite.status == "verified"
    assert review.verdict == "send"
    body = fake_llm.chat_requests[0].body
    assert body["model"] == "primary"
    assert body["response_format"] == {"type": "json_object"}  # openai/<name> on a custom base: JSON mode
    assert '"criteria"' in body["messages"][0]["content"]  # ... with the schema written into the prompt
    assert body["temperature"] == 0  # the prompt's recommended params are passed on


async def test_json_schema_response_format_when_supported(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT))
    review = await engine.areview(request_for(), fast_settings(fake_llm, json_schema=True))
    assert not review.engine.degraded
    response_format = fake_llm.chat_requests[0].body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "review"
    assert "no-fake-apology" in response_format["json_schema"]["schema"]["$defs"]["ModelCriteria"]["properties"]
    assert "JSON schema exactly" not in fake_llm.chat_requests[0].body["messages"][0]["content"]


async def test_prose_around_json_is_accepted_without_reask(fake_llm: FakeLLM) -> None:
    fake_llm.script("Sure! Here is my review:\n```json\n" + model_answer(DRAFT) + "\n```\nHope this helps.")
    review = await engine.areview(request_for(), fast_settings(fake_llm))
    assert not review.engine.degraded
    assert review.engine.reasks == 0 and len(fake_llm.chat_requests) == 1


async def test_truncated_json_is_reasked_with_the_model_own_answer(fake_llm: FakeLLM) -> None:
    truncated = model_answer(DRAFT)[:150]
    fake_llm.script(truncated, model_answer(DRAFT))
    review = await engine.areview(request_for(), fast_settings(fake_llm))
    assert not review.engine.degraded and review.engine.reasks == 1
    reask = fake_llm.chat_requests[1].messages
    assert len(reask) == 4
    assert reask[2] == {"role": "assistant", "content": truncated}
    assert "invalid or incomplete" in reask[3]["content"]


async def test_schema_breaking_json_reasks_are_bounded_and_the_conversation_does_not_grow(fake_llm: FakeLLM) -> None:
    bad = json.loads(model_answer(DRAFT))
    bad["criteria"]["owns-it"]["status"] = "maybe"
    worse = dict(bad, summary=None)
    fake_llm.script(json.dumps(bad), json.dumps(worse), json.dumps(bad))
    review = await engine.areview(request_for(), fast_settings(fake_llm, max_reasks=2))

    assert len(fake_llm.chat_requests) == 3  # the first answer + 2 re-asks, then it gives up on this model
    first, second, third = (r.messages for r in fake_llm.chat_requests)
    assert len(first) == 2 and len(second) == 4 and len(third) == 4  # never more than one bad answer + one error
    assert "criteria.owns-it.status" in second[3]["content"] and "'pass', 'fail' or 'na'" in second[3]["content"]
    assert third[2]["content"] == json.dumps(worse)  # only the latest bad answer is sent back
    assert third[3]["content"].count("got") == 1  # exactly one error
    assert review.engine.degraded and review.engine.reasks == 2
    assert "no valid answer after 2 re-asks" in (review.engine.degraded_reason or "")


async def test_429_retry_after_is_honoured(fake_llm: FakeLLM) -> None:
    fake_llm.script(Fail(429, retry_after=0.4), model_answer(DRAFT))
    review = await engine.areview(request_for(), fast_settings(fake_llm))
    first, second = fake_llm.chat_requests
    assert second.at - first.at >= 0.4  # the backoff alone would have waited at most 0.05 s
    assert review.engine.attempts == 2 and not review.engine.degraded


async def test_server_errors_are_retried_with_growing_backoff(fake_llm: FakeLLM) -> None:
    fake_llm.script(500, Fail(503), model_answer(DRAFT))
    settings = fast_settings(fake_llm, backoff_initial_s=0.1, backoff_max_s=1.0)
    review = await engine.areview(request_for(), settings)
    times = [r.at for r in fake_llm.chat_requests]
    assert len(times) == 3 and review.engine.attempts == 3 and not review.engine.degraded
    assert times[1] - times[0] >= 0.1 and times[2] - times[1] >= 0.2  # exponential: 0.1 then 0.2 (+ jitter)


async def test_a_response_slower_than_the_timeout_is_abandoned_and_retried(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT))  # warm-up: litellm's client code loads outside the short timeout
    await engine.areview(request_for(), fast_settings(fake_llm))
    fake_llm.requests.clear()
    fake_llm.script(Reply(model_answer(DRAFT), delay_s=5), model_answer(DRAFT))
    review = await engine.areview(request_for(), fast_settings(fake_llm, timeout_s=0.5))
    first, second = fake_llm.chat_requests
    assert second.at - first.at < 4  # abandoned after ~0.5 s, not after the 5 s the server took
    assert len(fake_llm.chat_requests) == 2 and not review.engine.degraded


async def test_fallback_models_are_tried_in_order(fake_llm: FakeLLM) -> None:
    fake_llm.script(500, 500, model="primary")
    fake_llm.script(Fail(401, message="bad key"), model="second")  # not transient: no retry, next model
    fake_llm.script(model_answer(DRAFT), model="third")
    settings = fast_settings(fake_llm, max_retries=1, fallback_models=["openai/second", "openai/third"])
    review = await engine.areview(request_for(), settings)
    assert [r.model for r in fake_llm.chat_requests] == ["primary", "primary", "second", "third"]
    assert review.engine.model == "openai/third" and review.engine.fallbacks_used == 2
    assert not review.engine.degraded and review.engine.attempts == 4


async def test_every_model_failing_gives_the_degraded_rules_review(fake_llm: FakeLLM) -> None:
    fake_llm.responder = lambda request: Fail(503)
    request = request_for("I'm sorry you feel that way.")
    settings = fast_settings(fake_llm, max_retries=1, fallback_models=["openai/backup"])
    review = await engine.areview(request, settings)  # never raises
    rules_only = engine.check(request)
    assert review.engine.degraded and review.engine.mode == "rules" and review.engine.model is None
    assert "openai/primary" in (review.engine.degraded_reason or "")
    assert "openai/backup" in (review.engine.degraded_reason or "")
    assert review.verdict == rules_only.verdict == "block"
    assert review.findings == rules_only.findings
    # no model answered, yet the review still carries the verified repair, and says why
    assert review.rewrite is not None and review.rewrite.source == "repair" and review.rewrite.status == "verified"
    assert review.rewrite.reason.startswith("no model answered")
    assert [r.model for r in fake_llm.chat_requests] == ["primary", "primary", "backup", "backup"]


async def test_a_retry_after_beyond_the_deadline_gives_up_at_once(fake_llm: FakeLLM) -> None:
    fake_llm.script(Fail(429, retry_after=60))
    review = await engine.areview(request_for(), fast_settings(fake_llm, deadline_s=20))
    assert time.monotonic() - fake_llm.chat_requests[0].at < 15  # did not wait the 60 s it was told
    assert len(fake_llm.chat_requests) == 1
    assert review.engine.degraded and "deadline" in (review.engine.degraded_reason or "")
    assert "RateLimitError 429" in (review.engine.degraded_reason or "")


async def test_unreachable_server_is_a_degraded_review() -> None:
    with FakeLLM() as gone:
        settings = fast_settings(gone, max_retries=1)
    review = await engine.areview(request_for(), settings)  # the server is stopped: connection refused
    assert review.engine.degraded and review.engine.attempts == 2


async def test_an_injected_completion_function_replaces_litellm(fake_llm: FakeLLM) -> None:
    import litellm

    seen: list[dict[str, Any]] = []

    async def completion(**kwargs: Any) -> Any:
        seen.append(kwargs)
        return await litellm.acompletion(**kwargs)

    fake_llm.script(model_answer(DRAFT))
    review = await engine.areview(request_for(), fast_settings(fake_llm), completion=completion)
    assert not review.engine.degraded
    assert len(seen) == 1 and seen[0]["model"] == "openai/primary" and seen[0]["api_base"] == fake_llm.base_url
    assert seen[0]["num_retries"] == 0 and seen[0]["max_retries"] == 0  # retries are ours, not litellm's
    assert seen[0]["drop_params"] is True  # a provider that rejects temperature etc. is not a failure


def test_sync_review_wrapper(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT))
    review = engine.review(request_for(), fast_settings(fake_llm))
    assert review.engine.mode == "llm" and review.rewrite is not None


async def test_rules_only_and_no_model_never_call_the_server(fake_llm: FakeLLM) -> None:
    review = await engine.areview(request_for(), fast_settings(fake_llm, rules_only=True))
    assert review.engine.mode == "rules" and not fake_llm.requests


async def test_unknown_prompt_version_is_degraded_not_raised(fake_llm: FakeLLM) -> None:
    # Settings refuse an unknown prompt up front (below); one that goes missing later still degrades.
    settings = fast_settings(fake_llm).model_copy(update={"prompt": "review@v999"})
    review = await engine.areview(request_for(), settings)
    assert review.engine.degraded and "review@v999" in (review.engine.degraded_reason or "")


def test_settings_refuse_an_unknown_prompt_in_one_line(fake_llm: FakeLLM) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="unknown prompt 'review@v999'"):
        fast_settings(fake_llm, prompt="review@v999")


async def test_context_reaches_the_prompt(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT))
    request = request_for(context=Context(company="Acme", allowed_remedies=["refund"]))
    await engine.areview(request, fast_settings(fake_llm))
    user = fake_llm.chat_requests[0].messages[1]["content"]
    assert "company: Acme" in user and "allowed remedies: refund" in user


async def test_the_json_schema_sent_is_portable(fake_llm: FakeLLM) -> None:
    fake_llm.script(model_answer(DRAFT))
    await engine.areview(request_for(), fast_settings(fake_llm, json_schema=True))
    sent = json.dumps(fake_llm.chat_requests[0].body["response_format"]["json_schema"]["schema"])
    assert "maxLength" not in sent and "maxItems" not in sent and '"title"' not in sent


async def test_an_overlong_field_is_still_reasked(fake_llm: FakeLLM) -> None:
    too_long = json.loads(model_answer(DRAFT))
    too_long["criteria"]["apologizes"]["quotes"] = ["a"] * 9
    fake_llm.script(json.dumps(too_long), model_answer(DRAFT))
    review = await engine.areview(request_for(), fast_settings(fake_llm, json_schema=True))
    assert review.engine.reasks == 1 and not review.engine.degraded
    assert "criteria.apologizes.quotes" in fake_llm.chat_requests[1].messages[3]["content"]


async def test_a_server_rejecting_json_schema_is_asked_again_in_json_mode(fake_llm: FakeLLM) -> None:
    fake_llm.script(Fail(400, message="response_format json_schema is not supported"), model_answer(DRAFT))
    review = await engine.areview(request_for(), fast_settings(fake_llm, json_schema=True))
    first, second = fake_llm.chat_requests
    assert first.body["response_format"]["type"] == "json_schema"
    assert second.body["response_format"] == {"type": "json_object"}
    assert "JSON schema exactly" in second.messages[0]["content"]
    assert not review.engine.degraded and review.engine.attempts == 2


def test_retry_after_forms() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from reviewer.llm import parse_retry_after

    assert parse_retry_after("3") == 3.0
    later = parse_retry_after(format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    assert later is not None and 25 < later <= 30
    assert parse_retry_after("soon") is None


async def test_a_model_that_cannot_be_routed_is_a_failure_not_an_exception(
    fake_llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reviewer import local

    async def broken_route(model: str, settings: object = None) -> tuple[str, dict[str, Any]]:
        raise RuntimeError("weights failed their sha256 check")

    monkeypatch.setattr(local, "alitellm_route", broken_route)
    needs_work = "I'm sorry you feel that way about order #12345."  # something to fix: the model is asked
    fake_llm.script(model_answer(needs_work), model="backup")
    settings = fast_settings(fake_llm, model="local/qwen2.5-coder-1.5b", fallback_models=["openai/backup"])
    review = await engine.areview(request_for(needs_work), settings)
    assert review.engine.model == "openai/backup" and review.engine.fallbacks_used == 1
    assert {r.model for r in fake_llm.chat_requests} == {"backup"}  # the local route never reached the network


def test_litellm_banners_stay_off_on_every_path(capfd: pytest.CaptureFixture[str]) -> None:
    """A price lookup for a model litellm doesn't know prints a 'Provider List' banner unless silenced."""
    import litellm

    from reviewer.providers import response_cost

    litellm.suppress_debug_info = False  # as a fresh import leaves it
    response = litellm.ModelResponse(model="qwen-unknown-to-litellm")
    assert response_cost(response) is None
    out, err = capfd.readouterr()
    assert "Provider List" not in out + err and "Give Feedback" not in out + err


async def test_a_fallback_can_live_on_its_own_server(fake_llm: FakeLLM) -> None:
    """REVIEWER_API_BASE serves the primary; REVIEWER_MODEL_API_BASES sends one fallback elsewhere."""
    fake_llm.responder = lambda request: Fail(503)
    with FakeLLM() as other:
        other.script(model_answer(DRAFT), model="backup")
        settings = fast_settings(fake_llm, max_retries=0, fallback_models=["openai/backup"],
                                 model_api_bases={"openai/backup": other.base_url})
        review = await engine.areview(request_for(), settings)
        assert [r.model for r in fake_llm.chat_requests] == ["primary"]
        assert [r.model for r in other.chat_requests] == ["backup"]
        headers = {key.lower(): value for key, value in other.chat_requests[0].headers.items()}
        assert headers["authorization"] == "Bearer sk-none"  # the shared REVIEWER_API_KEY is not sent elsewhere
        assert {key.lower(): value for key, value in fake_llm.chat_requests[0].headers.items()}["authorization"] == (
            "Bearer sk-test")
    assert review.engine.model == "openai/backup" and review.engine.fallbacks_used == 1 and not review.engine.degraded


def test_model_api_bases_come_from_json_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewer.config import Settings

    monkeypatch.setenv("REVIEWER_MODEL_API_BASES", '{"openai/llama3": "http://127.0.0.1:9/v1", "openai/gpt-4o": ""}')
    assert Settings().model_api_bases == {"openai/llama3": "http://127.0.0.1:9/v1", "openai/gpt-4o": ""}


async def test_the_models_own_statuses_ride_on_the_review(fake_llm: FakeLLM) -> None:
    """engine.model_criteria: what the model said per criterion, before the merge with the rules."""
    fake_llm.script(model_answer(DRAFT, statuses={"owns-it": "fail", "invites-input": "na"}))
    review = await engine.areview(request_for(), fast_settings(fake_llm))
    statuses = review.engine.model_criteria
    assert statuses is not None and len(statuses) == 10
    assert statuses["owns-it"] == "fail" and statuses["invites-input"] == "na" and statuses["apologizes"] == "pass"
    assert engine.check(request_for()).engine.model_criteria is None  # no model judged


async def test_a_rejected_answer_still_says_what_the_model_judged(fake_llm: FakeLLM) -> None:
    """Every answer invalid (a summary past its limit): degraded, the model's statuses kept (the eval reads them)."""
    too_long = model_answer(DRAFT, statuses={"thanks-customer": "fail"}).replace(
        '"summary": "Reviewed by the fake model."', '"summary": "' + "x" * 700 + '"')
    fake_llm.script(too_long, too_long, too_long)
    review = await engine.areview(request_for(), fast_settings(fake_llm, max_reasks=2))
    assert review.engine.degraded and review.engine.mode == "rules"
    assert review.engine.model_criteria is not None and review.engine.model_criteria["thanks-customer"] == "fail"
