"""The review's one-line summary, built from its verdict, findings and criteria, so it can never contradict them.

A model's own summary is not used: measured, the small model's summaries said a
draft was fine above findings that blocked it.
"""

from __future__ import annotations

from reviewer.models import CriterionResult, Finding, Verdict
from reviewer.rubric import CRITERIA_BY_ID

MAX_NAMED = 3
_OPENING = {"send": "Ready to send", "revise": "Revise before sending", "block": "Do not send"}


def _counted(findings: list[Finding]) -> str:
    parts = []
    for severity in ("error", "warning"):
        n = sum(f.severity == severity for f in findings)
        if n:
            parts.append(f"{n} {severity}{'s' if n > 1 else ''}")
    return " and ".join(parts)


def _named(finding: Finding) -> str:
    title = CRITERIA_BY_ID[finding.criterion].title.lower()
    if finding.span is None:
        return title
    where = " in the customer's message" if finding.span.source == "customer_message" else ""
    quote = " ".join(finding.span.text.split())
    quote = quote if len(quote) <= 50 else quote[:47] + "…"
    return f"{title} (“{quote}”{where})"


def summarize(verdict: Verdict, criteria: list[CriterionResult], findings: list[Finding]) -> str:
    """E.g. 'Do not send: 2 errors — no fake apology (“sorry you feel”), stays professional (…); also missing:
    apologises early, next steps.'"""
    problems = [f for f in findings if f.severity in ("error", "warning")]
    problems.sort(key=lambda f: f.severity != "error")
    explained = {f.criterion for f in problems}
    missing = [CRITERIA_BY_ID[c.id].title.lower() for c in criteria
               if c.status == "fail" and c.decided and c.id not in explained]
    if verdict == "send" and not problems and not missing:
        return "Ready to send: no check found a problem."
    text = _OPENING[verdict]
    if problems:
        named = ", ".join(_named(f) for f in problems[:MAX_NAMED])
        more = f" and {len(problems) - MAX_NAMED} more" if len(problems) > MAX_NAMED else ""
        text += f": {_counted(problems)} — {named}{more}"
    if missing:
        text += ("; also missing: " if problems else ": missing: ") + ", ".join(missing)
    return text + "."
