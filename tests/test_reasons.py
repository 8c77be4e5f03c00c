"""`Review.reasons` and `Review.criteria_by_id`: what decided the verdict, readable by a machine and a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewer import check
from reviewer.evaluation.cases import EvalCase, load_cases
from reviewer.models import SCHEMA_VERSION, Review, ReviewRequest
from reviewer.rubric import is_gating

CASES = load_cases(Path(__file__).resolve().parents[1] / "evals" / "cases")


def _text_of(request: ReviewRequest, span_source: str) -> str:
    return request.draft if span_source == "draft" else request.customer_message or ""


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_reasons_agree_with_the_verdict_on_every_golden_case(case: EvalCase) -> None:
    review = check(case.input)
    if review.verdict == "send":
        assert review.reasons == []
        return
    assert review.reasons, "a verdict other than send always has a reason"
    assert review.reasons[0].leads_to == review.verdict  # most severe first, and it is the deciding one
    order = [reason.leads_to for reason in review.reasons]
    assert order == sorted(order, key=lambda level: level != "block")
    for reason in review.reasons:
        if reason.span is not None:  # the span text is the exact slice it names
            assert reason.text == _text_of(case.input, reason.span.source)[reason.span.start : reason.span.end]
        if reason.kind == "criterion":
            assert is_gating(reason.criterion) and review.criteria_by_id[reason.criterion].status == "fail"
    assert review.criteria_by_id == {c.id: c for c in review.criteria}


def test_reasons_name_each_error_warning_and_unexplained_gating_failure_in_order() -> None:
    review = check("I'm sorry you feel that way. Per our policy, there is nothing we can do.")
    assert review.verdict == "block"
    assert [(r.kind, r.id, r.leads_to, r.text) for r in review.reasons] == [
        ("finding", "fake-apology.feelings", "block", "sorry you feel"),
        ("finding", "professional.nothing-we-can-do", "block", "there is nothing we can do"),
        ("finding", "blame.policy-shield", "revise", "Per our policy"),
        ("criterion", "apologizes", "revise", None),  # no finding on it: the absence is the reason
        ("criterion", "next-steps", "revise", None),
    ]
    assert review.reasons[3].message.startswith("Apologises early: ")


def test_suggestions_and_light_criteria_are_not_reasons() -> None:
    review = check("We're so sorry your parcel went missing. We have sent a replacement today; tracking to follow.")
    assert review.verdict == "send", review.reasons
    assert review.reasons == []
    assert any(c.status == "fail" for c in review.criteria)  # a weight-1 criterion failed: the score, not a reason


def test_reasons_survive_json_and_the_schema_version_says_so() -> None:
    review = check("Sorry if you were upset.")
    assert tuple(map(int, SCHEMA_VERSION.split("."))) >= (1, 1)  # reasons came in 1.1
    again = Review.model_validate_json(review.model_dump_json())
    assert again == review and again.reasons and again.criteria_by_id["no-fake-apology"].status == "fail"
