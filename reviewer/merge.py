"""Merging the model's judgement with the rules': who decides each criterion, and where quotes are.

The rules engine's findings always stand: the merge never removes or softens one,
so an ``error`` finding blocks whatever the model says (a draft that talks its
reviewer into "send" can't clear it).

Who decides a criterion's status is a *trust map* (criterion -> trust):

- ``rules``: the rules' result only; the model's view is ignored.
- ``rules_then_model`` (the conservative default, for models without a measured profile):
  where the rules decided, their result stands; where they abstained
  (``decided=False``) the model's status fills in, marked ``source="model"``.
- ``model``: the model's status, even over a decided rule (for criteria where a
  model is measured to judge better); the rules' findings still stand.

The model's failing criteria add findings (``source="model"``, with spans from its
quotes) of severity ``suggestion``: they point at the text but never move the
verdict by themselves. The model moves the verdict only through the status of a
criterion it is trusted to decide (a failing criterion of weight -> ``revise``);
it can never produce an ``error`` (block).

Quotes are located in the draft tolerantly (case, runs of whitespace, curly vs
straight quotes and apostrophes, dashes); a quote not found is dropped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from reviewer.llm_output import CriterionJudgement, ModelReview
from reviewer.models import CriterionId, CriterionResult, Finding, Span
from reviewer.rubric import CRITERION_IDS
from reviewer.rules.text import QUOTE_FOLD

Trust = Literal["rules", "rules_then_model", "model"]  # most conservative first
TrustMap = Mapping[str, Trust]

CONSERVATIVE: dict[str, Trust] = dict.fromkeys(CRITERION_IDS, "rules_then_model")

_FOLD = str.maketrans({**QUOTE_FOLD, "\u2013": "-", "\u2014": "-", "\u2212": "-"})  # and a dash is a dash
_EDGE = " \t\n\"'.,;:!?…-"


def _normalise(text: str) -> tuple[str, list[int]]:
    """Folded text and, for each of its characters, the index it came from in ``text``."""
    out: list[str] = []
    index: list[int] = []
    previous_space = False
    for position, char in enumerate(text.translate(_FOLD)):
        if char.isspace():
            if previous_space:
                continue
            char, previous_space = " ", True
        else:
            previous_space = False
        for folded in char.lower():
            out.append(folded)
            index.append(position)
    return "".join(out), index


def locate(quote: str, draft: str) -> Span | None:
    """The span of ``quote`` in ``draft`` (tolerant match), or None when the draft doesn't contain it."""
    cleaned = quote.strip().strip(_EDGE).strip()
    cleaned = re.sub(r"^(\.\.\.|…)|(\.\.\.|…)$", "", cleaned).strip()
    if not cleaned:
        return None
    haystack, index = _normalise(draft)
    needle, _ = _normalise(cleaned)
    found = haystack.find(needle)
    if found < 0:
        return None
    start = index[found]
    end = index[found + len(needle) - 1] + 1
    return Span(start=start, end=end, text=draft[start:end], source="draft")


@dataclass
class Merged:
    criteria: list[CriterionResult]
    findings: list[Finding]
    dropped_quotes: int


def _spans(judgement: CriterionJudgement, draft: str) -> tuple[list[Span], int]:
    spans: list[Span] = []
    dropped = 0
    for quote in judgement.quotes:
        span = locate(quote, draft)
        if span is None:
            dropped += 1
        elif all((s.start, s.end) != (span.start, span.end) for s in spans):
            spans.append(span)
    return spans, dropped


def merge(
    draft: str,
    rules_criteria: list[CriterionResult],
    rules_findings: list[Finding],
    model: ModelReview,
    trust: TrustMap | None = None,
) -> Merged:
    """Combine the rules' results with the model's judgement under ``trust`` (default: conservative)."""
    trust = trust or CONSERVATIVE
    judgements = model.criteria.by_id()
    criteria: list[CriterionResult] = []
    findings: list[Finding] = list(rules_findings)
    dropped = 0
    by_id = {c.id: c for c in rules_criteria}
    for cid in CRITERION_IDS:
        rule = by_id.get(cid) or CriterionResult(id=cid, status="na", explanation="No rule result.", decided=False)
        judgement = judgements[cid]
        spans, lost = _spans(judgement, draft)
        dropped += lost
        level = trust.get(cid, "rules_then_model")
        model_decides = level == "model" or (level == "rules_then_model" and not rule.decided)
        if model_decides:
            result = CriterionResult(
                id=cid, status=judgement.status, evidence=spans, explanation=judgement.explanation,
                decided=rule.decided if level != "model" else True, source="model",
            )
        elif level != "rules" and judgement.status == rule.status:
            evidence = rule.evidence + [s for s in spans if s not in rule.evidence]
            result = rule.model_copy(update={"evidence": evidence, "source": "rules+model"})
        else:
            result = rule
        criteria.append(result)
        if judgement.status == "fail":
            findings.extend(_model_findings(cid, judgement, spans))
    return Merged(criteria=criteria, findings=findings, dropped_quotes=dropped)


def _model_findings(cid: CriterionId, judgement: CriterionJudgement, spans: list[Span]) -> list[Finding]:
    severity: Literal["suggestion"] = "suggestion"
    message = judgement.explanation or f"The model judged {cid} as failing."
    if not spans:
        return [Finding(rule_id=f"model.{cid}", criterion=cid, severity=severity, message=message, source="model")]
    return [
        Finding(rule_id=f"model.{cid}", criterion=cid, severity=severity, span=span, message=message, source="model")
        for span in spans
    ]
