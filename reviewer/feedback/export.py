"""Turn agents' rejected and edited rewrites into eval cases or training labels.

What an agent's action says, and no more:

- **rejected** (with a reason, maybe a criterion): the rewrite the agent saw is not fit to send.
  Case: that rewrite as the draft, expected verdict ``revise`` or ``block`` (and the named
  criterion ``fail``). Label: that rewrite, verdict ``revise``, the named criterion ``fail``.
- **edited**: the text the agent sent instead is fit to send. Case: that text as the draft,
  expected verdict ``send``. Label: that text, verdict ``send``.

The customer's message and context of the original request go with each. Criteria the agent did
not name stay unlabelled: an action says whether a text may be sent, not why. Accepted rewrites
agree with the reviewer and add nothing, so they are not exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import yaml

from reviewer.evaluation.cases import EvalCase
from reviewer.feedback.store import FeedbackRow


@dataclass(frozen=True)
class Judged:
    """A text an agent judged, with the verdicts that judgement allows."""

    id: str
    action: str
    text: str
    row: FeedbackRow
    verdicts: list[str]
    failed: str | None

    @property
    def note(self) -> str:
        who = f"agent {self.row.agent_id}" if self.row.agent_id else "an agent"
        if self.action == "rejected":
            return f"{who} rejected this rewrite: {' '.join((self.row.reason or '').split())}"
        return f"{who} sent this text after editing the rewrite (review {self.row.review.id})"


def judged(rows: Iterable[FeedbackRow]) -> tuple[list[Judged], list[str]]:
    """The judged texts of the rejected and edited rows, and why any row was skipped."""
    found: list[Judged] = []
    skipped: list[str] = []
    for row in rows:
        key = f"feedback-{row.id}"
        if row.action == "rejected":
            if row.review.rewrite is None:
                skipped.append(f"{key}: rejected a review without a rewrite (nothing the agent judged to export)")
                continue
            found.append(Judged(key, "rejected", row.review.rewrite.text, row, ["revise", "block"], row.criterion))
        elif row.action == "edited" and row.edited_text:
            found.append(Judged(key, "edited", row.edited_text, row, ["send"], None))
    return found, skipped


def as_cases(items: list[Judged]) -> str:
    """YAML in the ``evals/cases`` format (validated case by case)."""
    cases: list[dict[str, Any]] = []
    for item in items:
        request = item.row.request.model_copy(update={"draft": item.text})
        expect: dict[str, Any] = {"verdict": item.verdicts}
        if item.failed:
            expect["criteria"] = {item.failed: "fail"}
        case = {
            "id": item.id,
            "tags": ["feedback", item.action, *([item.failed] if item.failed else [])],
            "rationale": item.note,
            "input": request.model_dump(mode="json", exclude_defaults=True),
            "expect": expect,
        }
        EvalCase.model_validate(case)
        cases.append(case)
    return yaml.safe_dump(cases, sort_keys=False, allow_unicode=True, width=100) if cases else "[]\n"


def as_labels(items: list[Judged]) -> tuple[str, str]:
    """Labels JSONL (``{id, labels, verdict, note}``, as ``labels_train.jsonl``) and texts JSONL
    (``{id, customer, reply}``) for ``reviewer train``."""
    labels: list[str] = []
    texts: list[str] = []
    for item in items:
        row = {
            "id": item.id,
            "labels": {item.failed: "fail"} if item.failed else {},
            "verdict": item.verdicts[0],
            "note": item.note,
        }
        labels.append(json.dumps(row, ensure_ascii=False))
        text = {"id": item.id, "customer": item.row.request.customer_message or "", "reply": item.text}
        texts.append(json.dumps(text, ensure_ascii=False))
    return "".join(line + "\n" for line in labels), "".join(line + "\n" for line in texts)
