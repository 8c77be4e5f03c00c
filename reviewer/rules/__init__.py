"""The deterministic rules engine: text patterns with exact spans, offline and instant.

Public entry point: ``run(request) -> RulesResult``. The rule data lives in
``reviewer/rules/data/*.yaml``; the code here only reads and runs it.

SCAFFOLD: this first version only fixes the interface every other module
codes against; the real engine and rule data replace it (foundation issue).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewer.models import CriterionResult, Finding, ReviewRequest
from reviewer.rubric import CRITERIA

RULES_VERSION = "0.0.0"


@dataclass
class RulesResult:
    """What the rules found: findings (spans in the draft or the customer's message) and a status per criterion.

    ``criteria`` holds exactly one result per rubric criterion, in rubric order; each says
    whether the rules *decided* it (``decided=True``) or abstained (``decided=False``).
    """

    findings: list[Finding] = field(default_factory=list)
    criteria: list[CriterionResult] = field(default_factory=list)


def run(request: ReviewRequest) -> RulesResult:
    """Run every rule over the request's draft (and customer message)."""
    criteria = [
        CriterionResult(id=c.id, status="na", explanation="Not judged yet.", decided=False) for c in CRITERIA
    ]
    return RulesResult(findings=[], criteria=criteria)
