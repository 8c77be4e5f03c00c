"""The public contract: what ReviewRequest and Review accept and refuse."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from reviewer.models import (
    MAX_CUSTOMER_CHARS,
    MAX_DRAFT_CHARS,
    SCHEMA_VERSION,
    Context,
    CriterionResult,
    Engine,
    Finding,
    Review,
    ReviewRequest,
    Rewrite,
    Span,
)
from reviewer.rubric import CRITERIA


def _review(**changes: Any) -> dict[str, Any]:
    review: dict[str, Any] = {
        "verdict": "send",
        "score": 100,
        "criteria": [{"id": c.id, "status": "pass", "explanation": "ok"} for c in CRITERIA],
        "findings": [],
        "engine": {"rules_version": "1"},
    }
    review.update(changes)
    return review


# --- ReviewRequest ----------------------------------------------------------------------------------


def test_minimal_request() -> None:
    request = ReviewRequest(draft="Thanks for waiting.")
    assert request.customer_message is None
    assert request.context == Context()
    assert request.context.allowed_remedies == []


@pytest.mark.parametrize("draft", ["", " ", "\n\t  \n"])
def test_empty_draft_is_refused(draft: str) -> None:
    with pytest.raises(ValidationError, match="draft is empty"):
        ReviewRequest(draft=draft)


def test_draft_length_limit_counts_characters_after_stripping() -> None:
    assert len(ReviewRequest(draft="a" * MAX_DRAFT_CHARS).draft) == MAX_DRAFT_CHARS
    padded = "  \n" + "é" * MAX_DRAFT_CHARS + "\n  "  # whitespace around it does not count
    assert ReviewRequest(draft=padded).draft == padded  # kept as sent: spans index the original text
    with pytest.raises(ValidationError, match=f"limit is {MAX_DRAFT_CHARS}"):
        ReviewRequest(draft="a" * (MAX_DRAFT_CHARS + 1))


def test_one_character_draft_is_enough() -> None:
    assert ReviewRequest(draft=" k ").draft == " k "


def test_customer_message_limit() -> None:
    ReviewRequest(draft="Hi", customer_message="x" * MAX_CUSTOMER_CHARS)
    with pytest.raises(ValidationError, match="customer_message"):
        ReviewRequest(draft="Hi", customer_message="x" * (MAX_CUSTOMER_CHARS + 1))


def test_draft_is_required_and_must_be_text() -> None:
    with pytest.raises(ValidationError):
        ReviewRequest.model_validate({})
    with pytest.raises(ValidationError):
        ReviewRequest.model_validate({"draft": 42})


@pytest.mark.parametrize("channel", ["email", "chat", "social", "phone"])
def test_each_channel_is_accepted(channel: str) -> None:
    request = ReviewRequest.model_validate({"draft": "Hi", "context": {"channel": channel}})
    assert request.context.channel == channel


@pytest.mark.parametrize("channel", ["fax", "Email", "", "sms"])
def test_other_channels_are_refused(channel: str) -> None:
    with pytest.raises(ValidationError, match="channel"):
        ReviewRequest.model_validate({"draft": "Hi", "context": {"channel": channel}})


def test_full_context() -> None:
    request = ReviewRequest.model_validate(
        {
            "draft": "Hi",
            "customer_message": "Where is my parcel?",
            "context": {
                "company": "Acme",
                "agent_name": "Sam",
                "channel": "email",
                "allowed_remedies": ["refund", "replacement"],
                "language": "en",
            },
        }
    )
    assert request.context.allowed_remedies == ["refund", "replacement"]


@pytest.mark.parametrize(
    "payload",
    [
        {"draft": "Hi", "priority": "high"},
        {"draft": "Hi", "context": {"channel": "chat", "tone": "warm"}},
        {"draft": "Hi", "Draft": "Hello"},
    ],
)
def test_extra_fields_are_refused_in_requests(payload: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        ReviewRequest.model_validate(payload)


def test_context_field_limits() -> None:
    with pytest.raises(ValidationError):
        Context(company="A" * 201)
    with pytest.raises(ValidationError):
        Context(allowed_remedies=["refund"] * 51)


# --- Review -------------------------------------------------------------------------------------------


def test_review_round_trips_through_json() -> None:
    review = Review.model_validate(
        _review(
            verdict="block",
            score=10,
            findings=[
                {
                    "rule_id": "fake-apology",
                    "criterion": "no-fake-apology",
                    "severity": "error",
                    "span": {"start": 0, "end": 5, "text": "Sorry"},
                    "message": "m",
                }
            ],
            rewrite={"text": "We're sorry we got it wrong.", "status": "verified"},
        )
    )
    assert review.schema_version == SCHEMA_VERSION
    assert review.findings[0].span == Span(start=0, end=5, text="Sorry", source="draft")
    assert review.rewrite == Rewrite(text="We're sorry we got it wrong.", status="verified")
    assert Review.model_validate_json(review.model_dump_json()) == review


def test_review_defaults() -> None:
    review = Review.model_validate(_review())
    assert review.rewrite is None
    assert review.engine == Engine(rules_version="1")
    assert review.engine.degraded is False and review.engine.model is None
    assert all(c.decided and c.source == "rules" for c in review.criteria)


@pytest.mark.parametrize(
    "changes",
    [
        {"verdict": "approve"},
        {"score": -1},
        {"score": 101},
        {"surprise": True},
        {"criteria": [{"id": "be-nice", "status": "pass", "explanation": "x"}]},
        {"criteria": [{"id": "apologizes", "status": "maybe", "explanation": "x"}]},
        {"rewrite": {"text": "x", "status": "checked"}},
        {"engine": {"rules_version": "1", "mode": "magic"}},
        {"engine": {"rules_version": "1", "extra": 1}},
    ],
)
def test_invalid_reviews_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Review.model_validate(_review(**changes))


_FINDING: dict[str, Any] = {"rule_id": "r", "criterion": "apologizes", "severity": "error", "message": "m"}


@pytest.mark.parametrize(
    "finding",
    [
        {**_FINDING, "severity": "fatal"},
        {**_FINDING, "criterion": "be-nice"},
        {**_FINDING, "span": {"start": -1, "end": 1, "text": "x"}},
        {**_FINDING, "span": {"start": 0, "end": 1, "text": "x", "source": "agent"}},
        {**_FINDING, "line": 3},
    ],
)
def test_invalid_findings_are_refused(finding: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Finding.model_validate(finding)


def test_span_may_point_into_the_customer_message() -> None:
    span = Span(start=3, end=8, text="THIRD", source="customer_message")
    assert (
        Finding(rule_id="r", criterion="acknowledges-feelings", severity="suggestion", span=span, message="m").span
        == span
    )


def test_criterion_result_records_who_decided() -> None:
    result = CriterionResult(id="owns-it", status="na", explanation="can't tell from text", decided=False)
    assert (result.decided, result.source) == (False, "rules")
    assert CriterionResult(id="owns-it", status="fail", explanation="x", source="rules+model").source == "rules+model"
