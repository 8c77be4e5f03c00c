"""The ten criteria of the guidance, their weights, and the verdict and score rules.

Verdict rule (deterministic, in this order):
1. any finding of severity ``error`` -> ``block`` (it would make things worse);
2. any finding of severity ``warning`` (on any criterion, in the draft or about
   the customer's message, e.g. a repeat contact or a stated need the reply
   ignores), or any criterion of weight (``weight >= GATING_WEIGHT``) with
   status ``fail`` -> ``revise`` (something important is missing);
3. otherwise ``send``. Findings of severity ``suggestion`` never change the verdict.

A learned judge (:mod:`reviewer.judge`) that is sure of a *stricter* verdict raises it
(``send`` -> ``revise``, or to ``block``); it never lowers what the rules decide, because
it reads untrusted text: nothing in a draft may talk the verdict below the rules' floor
(:func:`strictest`).

A judgement of statuses alone, with no finding to point at (a model's own answer), counts a
failed *blocking* criterion (:data:`BLOCKING_CRITERIA`: a fake apology, an unprofessional
reply) as an ``error`` (:func:`status_verdict`): those failures make a reply worse.

A criterion of weight is one whose failure alone makes a reply unfit to send:
no fake apology, an early apology, staying professional, understanding the
issue and clear next steps. The others (ownership, naming the impact, a remedy,
inviting input, thanks) lower the score; they change the verdict only through a
``warning`` finding, i.e. when the draft does something wrong rather than
merely leaving something out (blaming the courier, ignoring a stated deadline).

Score: the weighted share of applicable criteria that pass, 0-100
(``na`` criteria are left out). A ``block`` caps it at 30 and a ``revise`` at 79,
so the number never contradicts the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import get_args

from reviewer.models import CriterionId, CriterionResult, Finding, Reason, Severity, Status, Verdict

GATING_WEIGHT = 2
BLOCK_SCORE_CAP = 30
REVISE_SCORE_CAP = 79


@dataclass(frozen=True)
class Criterion:
    id: CriterionId
    title: str
    description: str
    weight: int


CRITERIA: tuple[Criterion, ...] = (
    Criterion("no-fake-apology", "No fake apology",
              "Apologise for the failure, not for the customer's feelings; no 'if', no hedged 'any'.", 3),
    Criterion("apologizes", "Apologises early",
              "A sincere apology is present, in the first or second sentence.", 3),
    Criterion("owns-it", "Owns it",
              "Takes responsibility for the company without excuses or shifting blame.", 1),
    Criterion("acknowledges-feelings", "Acknowledges feelings",
              "Shows it understands why the customer is upset, naming the real impact.", 1),
    Criterion("stays-professional", "Stays professional",
              "Not personal, defensive, condescending, sarcastic or dismissive.", 3),
    Criterion("understands-issue", "Understands the issue",
              "Asks focused questions where the facts are unclear instead of guessing.", 2),
    Criterion("offers-solution", "Offers a solution",
              "Gives a concrete fix or remedy, not words only.", 1),
    Criterion("next-steps", "Next steps",
              "The customer knows what happens next: an action for them, or our commitment with a time.", 2),
    Criterion("invites-input", "Invites input",
              "Asks what would make it right when the remedy is open.", 1),
    Criterion("thanks-customer", "Thanks the customer",
              "Thanks the customer for raising it or for their patience.", 1),
)

CRITERIA_BY_ID: dict[str, Criterion] = {c.id: c for c in CRITERIA}
CRITERION_IDS: tuple[CriterionId, ...] = get_args(CriterionId)  # the type the API validates against
if tuple(c.id for c in CRITERIA) != CRITERION_IDS:
    raise ImportError("rubric.CRITERIA must describe each models.CriterionId once, in the same order")

# Failing one of these makes a reply worse, not merely incomplete (GUIDANCE: verdicts).
BLOCKING_CRITERIA: tuple[CriterionId, ...] = ("no-fake-apology", "stays-professional")


def attribute_name(criterion_id: str) -> str:
    """The Python name for a criterion id (``owns-it`` -> ``owns_it``), for objects with one member per criterion."""
    return criterion_id.replace("-", "_")


def is_gating(criterion_id: str) -> bool:
    """A criterion 'of weight': failing it alone makes the verdict `revise`."""
    return CRITERIA_BY_ID[criterion_id].weight >= GATING_WEIGHT


VERDICT_ORDER: tuple[Verdict, ...] = ("send", "revise", "block")


def strictest(*verdicts: Verdict) -> Verdict:
    """The strictest of the verdicts given (``block`` > ``revise`` > ``send``)."""
    return max(verdicts, key=VERDICT_ORDER.index)


def verdict_for(severities: Iterable[Severity], failed: Iterable[str]) -> Verdict:
    """The verdict rule documented in this module's docstring, from the findings' severities and the failed criteria."""
    seen = set(severities)
    if "error" in seen:
        return "block"
    if "warning" in seen:
        return "revise"
    if any(is_gating(cid) for cid in failed):
        return "revise"
    return "send"


def decide_verdict(criteria: list[CriterionResult], findings: list[Finding]) -> Verdict:
    """The verdict of a review's criteria and findings (:func:`verdict_for`)."""
    return verdict_for((f.severity for f in findings), (c.id for c in criteria if c.status == "fail"))


def status_verdict(statuses: Mapping[CriterionId, Status]) -> Verdict:
    """The verdict statuses alone imply (a model's own judgement): a failed blocking criterion counts as an error."""
    failed = [cid for cid, status in statuses.items() if status == "fail"]
    return verdict_for(("error" for cid in failed if cid in BLOCKING_CRITERIA), failed)


def reasons(criteria: list[CriterionResult], findings: list[Finding]) -> list[Reason]:
    """What decided the verdict, most severe first, by the same rule as :func:`decide_verdict`.

    Error findings (each blocks), then warning findings, then failed gating criteria
    that no error or warning finding explains (each means revise). Suggestions and
    failed criteria of weight 1 never appear: they do not move the verdict.
    """
    found = [
        Reason(
            kind="finding",
            id=f.rule_id,
            criterion=f.criterion,
            leads_to="block" if f.severity == "error" else "revise",
            message=f.message,
            text=f.span.text if f.span else None,
            span=f.span,
            source=f.source,
        )
        for f in findings
        if f.severity in ("error", "warning")
    ]
    explained = {reason.criterion for reason in found}
    failed = [
        Reason(
            kind="criterion",
            id=c.id,
            criterion=c.id,
            leads_to="revise",
            message=f"{CRITERIA_BY_ID[c.id].title}: {c.explanation}",
            text=c.evidence[0].text if c.evidence else None,
            span=c.evidence[0] if c.evidence else None,
            source=c.source,
        )
        for c in criteria
        if c.status == "fail" and is_gating(c.id) and c.id not in explained
    ]
    return sorted(found, key=lambda reason: reason.leads_to != "block") + failed


def score(criteria: list[CriterionResult], verdict: Verdict) -> int:
    """Weighted share of applicable criteria that pass, capped by the verdict."""
    applicable = [c for c in criteria if c.status != "na"]
    total = sum(CRITERIA_BY_ID[c.id].weight for c in applicable)
    passed = sum(CRITERIA_BY_ID[c.id].weight for c in applicable if c.status == "pass")
    value = round(100 * passed / total) if total else 100
    if verdict == "block":
        value = min(value, BLOCK_SCORE_CAP)
    elif verdict == "revise":
        value = min(value, REVISE_SCORE_CAP)
    return value
