"""Helpers for the LLM-reviewer tests: fast settings for the fake server, and a tiny phrase-rules stand-in.

``phrase_rules`` replaces ``reviewer.rules.run`` with a minimal deterministic engine
(one blocking phrase, one decided criterion, the rest abstaining) so the merge and
rewrite tests pin down the *reviewer's* behaviour whatever stage the real rule data
is at. Tests that need the real rules say so and use ``reviewer.rules.run`` directly.
"""

from __future__ import annotations

import re
from typing import Any

from fake_llm import FakeLLM

from reviewer import rules
from reviewer.config import Settings
from reviewer.models import CriterionResult, Finding, ReviewRequest, Span
from reviewer.rubric import CRITERIA

FAKE_APOLOGY = re.compile(r"sorry you feel that way", re.IGNORECASE)
THANKS = re.compile(r"\bthank", re.IGNORECASE)


def fast_settings(fake: FakeLLM, model: str = "openai/primary", **overrides: Any) -> Settings:
    """Settings aimed at the fake server, with tiny backoff so retries cost milliseconds."""
    values: dict[str, Any] = {
        "model": model,
        "api_base": fake.base_url,
        "api_key": "sk-test",
        "backoff_initial_s": 0.01,
        "backoff_max_s": 0.05,
        "timeout_s": 30.0,  # generous: the machine is shared; tests that need a timeout set a short one
        "deadline_s": 60.0,
        "max_retries": 2,
        "fallback_models": [],
    }
    values.update(overrides)
    return Settings(**values)


def phrase_rules(request: ReviewRequest) -> rules.RulesResult:
    """A stand-in rules engine: 'sorry you feel that way' is a blocking fake apology; thanks is decided."""
    findings: list[Finding] = []
    fake = FAKE_APOLOGY.search(request.draft)
    if fake:
        span = Span(start=fake.start(), end=fake.end(), text=fake.group(0))
        findings.append(Finding(rule_id="fake-apology.feel", criterion="no-fake-apology", severity="error",
                                span=span, message="Apologises for the customer's feelings, not the failure."))
    criteria = []
    for criterion in CRITERIA:
        if criterion.id == "no-fake-apology" and fake:
            criteria.append(CriterionResult(id=criterion.id, status="fail", explanation="fake apology",
                                            decided=True))
        elif criterion.id == "thanks-customer":
            thanked = bool(THANKS.search(request.draft))
            criteria.append(CriterionResult(id=criterion.id, status="pass" if thanked else "fail",
                                            explanation="thanks" if thanked else "no thanks", decided=True))
        else:
            criteria.append(CriterionResult(id=criterion.id, status="na", explanation="abstain", decided=False))
    return rules.RulesResult(findings=findings, criteria=criteria)
