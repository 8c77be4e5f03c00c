"""The verdict rule and the score, exactly as rubric.py documents them."""

from __future__ import annotations

from reviewer import rubric
from reviewer.models import CriterionResult, Finding, Span


def _criteria(**fails: str) -> list[CriterionResult]:
    return [CriterionResult(id=c.id, status=fails.get(c.id.replace("-", "_"), "pass"), explanation="x")  # type: ignore[arg-type]
            for c in rubric.CRITERIA]


def _finding(severity: str, criterion: str = "owns-it", source: str = "draft") -> Finding:
    return Finding(rule_id="t", criterion=criterion, severity=severity,  # type: ignore[arg-type]
                   span=Span(start=0, end=1, text="x", source=source), message="m")  # type: ignore[arg-type]


def test_ten_criteria_with_the_guidance_ids() -> None:
    assert rubric.CRITERION_IDS == (
        "no-fake-apology", "apologizes", "owns-it", "acknowledges-feelings", "stays-professional",
        "understands-issue", "offers-solution", "next-steps", "invites-input", "thanks-customer")


def test_gating_criteria() -> None:
    gating = {c.id for c in rubric.CRITERIA if rubric.is_gating(c.id)}
    assert gating == {"no-fake-apology", "apologizes", "stays-professional", "understands-issue", "next-steps"}


def test_all_pass_is_send() -> None:
    assert rubric.decide_verdict(_criteria(), []) == "send"


def test_an_error_finding_blocks_even_when_everything_passes() -> None:
    assert rubric.decide_verdict(_criteria(), [_finding("warning"), _finding("error")]) == "block"


def test_a_warning_on_any_criterion_revises() -> None:
    assert rubric.decide_verdict(_criteria(), [_finding("warning", "owns-it")]) == "revise"
    assert rubric.decide_verdict(_criteria(), [_finding("warning", "acknowledges-feelings", "customer_message")]) \
        == "revise"


def test_a_suggestion_never_changes_the_verdict() -> None:
    assert rubric.decide_verdict(_criteria(), [_finding("suggestion", "understands-issue")]) == "send"


def test_failed_gating_criterion_revises_but_a_light_one_does_not() -> None:
    assert rubric.decide_verdict(_criteria(apologizes="fail"), []) == "revise"
    assert rubric.decide_verdict(_criteria(next_steps="fail"), []) == "revise"
    assert rubric.decide_verdict(_criteria(owns_it="fail", thanks_customer="fail", offers_solution="fail"), []) \
        == "send"


def test_score_is_weighted_share_of_applicable_criteria() -> None:
    assert rubric.score(_criteria(), "send") == 100
    # owns-it (weight 1) fails and invites-input (weight 1) is na: (total - 2) of (total - 1) passes
    total = sum(c.weight for c in rubric.CRITERIA)
    crit = _criteria(owns_it="fail", invites_input="na")
    assert rubric.score(crit, "send") == round(100 * (total - 2) / (total - 1))


def test_score_never_contradicts_the_verdict() -> None:
    assert rubric.score(_criteria(), "block") == rubric.BLOCK_SCORE_CAP
    assert rubric.score(_criteria(), "revise") == rubric.REVISE_SCORE_CAP


def test_docstring_documents_the_rule() -> None:
    doc = rubric.__doc__ or ""
    assert "error" in doc and "block" in doc and "warning" in doc and "revise" in doc and "send" in doc
