"""The deterministic rules engine: text patterns with exact spans, offline and instant.

Public entry point: ``run(request) -> RulesResult``. The rule data lives in
``reviewer/rules/data/*.yaml`` (one file per criterion, plus the customer's
message); the code here only reads and runs it. Patterns are compiled once, on
first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from reviewer.models import CriterionResult, Finding, ReviewRequest, Severity
from reviewer.rules.criteria import CriterionJudge
from reviewer.rules.loader import Rule, load_rules
from reviewer.rules.matching import Match, Matches, RuleSet, ScopeHits, assemble, finding_for, match_scope
from reviewer.rules.text import Prepared, has_english, prepare

RULES_VERSION = "1.6.0"

MAX_FINDINGS_PER_RULE = 20
_SEVERITY_RANK = {"error": 0, "warning": 1, "suggestion": 2}


@dataclass
class RulesResult:
    """What the rules found: findings (spans in the draft or the customer's message) and a status per criterion.

    ``criteria`` holds exactly one result per rubric criterion, in rubric order; each says
    whether the rules *decided* it (``decided=True``) or abstained (``decided=False``).
    """

    findings: list[Finding] = field(default_factory=list)
    criteria: list[CriterionResult] = field(default_factory=list)


@lru_cache(maxsize=1)
def rules() -> tuple[Rule, ...]:
    """All rules, loaded and compiled once per process."""
    return load_rules()


def run(request: ReviewRequest) -> RulesResult:
    """Run every rule over the request's draft (and customer message)."""
    draft = prepare(request.draft)
    english = _is_english(request, draft)
    ruleset = all_rules()
    hits = match_scope(ruleset, "draft", draft)
    customer, customer_hits = _customer_side(request.customer_message or "")
    matches = assemble(ruleset, draft, customer, {**hits, **customer_hits})
    if english:
        _drop_other_language_signals(matches)

    fake = [m for rid, hits in matches.by_rule.items() if rid.startswith(("fake-apology.", "hedged-apology."))
            for m in hits]
    real_apologies = [a for a in matches.signal("apology")
                      if not any(a.start < f.end and f.start < a.end for f in fake)]
    conditions = {
        "customer-repeat": bool(matches.signal("repeat") or matches.signal("waiting")),
        "customer-rejected": bool(matches.signal("rejected")),
        "no-apology": not real_apologies,
        "no-step": not (matches.signal("step") or matches.signal("question")),
        "re-ask": bool(matches.signal("re-ask")),
        "customer-need": any(_unaddressed(h.rule, matches) for h in matches.signal("need")),
    }
    findings = _findings(matches, conditions)
    criteria = CriterionJudge(matches, findings, real_apologies, english=english).all()
    return RulesResult(findings=findings, criteria=criteria)


@lru_cache(maxsize=1)
def all_rules() -> RuleSet:
    """Every rule, English and other languages: all of them read every draft, so no language tag and
    no words of another language can switch a rule off (``context.language`` may only add)."""
    return RuleSet(rules())


@lru_cache(maxsize=8)  # the messages being reviewed now (one per thread), no more
def _customer_side(text: str) -> tuple[Prepared | None, ScopeHits]:
    """The customer's message prepared and matched, once per message: the repair runs the rules again
    on its own drafts, always against the same message. Callers only read what it returns."""
    if not text.strip():
        return None, {}
    customer = prepare(text, mask_quotes=False)
    if not has_english(customer.lower):
        return None, {}  # the customer-message rules read English only
    return customer, match_scope(all_rules(), "customer", customer)


def _drop_other_language_signals(matches: Matches) -> None:
    """In English text the other languages' *evidence* (an apology word such as "excuses" or "pardon")
    would only ever raise the verdict; their findings (errors, warnings) always stand."""
    for name, hits in list(matches.by_signal.items()):
        kept = [m for m in hits if not m.rule.any_language]
        if kept:
            matches.by_signal[name] = kept
        else:
            del matches.by_signal[name]
    for rule_id in [rid for rid, hits in matches.by_rule.items() if hits[0].rule.any_language
                    and hits[0].rule.severity is None]:
        del matches.by_rule[rule_id]


def _is_english(request: ReviewRequest, draft: Prepared) -> bool:
    """Whether the English rules judge what is missing (no apology, no thanks, no next step).

    A draft with English in it is judged as English whatever its tag says; a tag of ``en`` makes any
    draft English. A tag can add the English judgement, never take it away.
    """
    language = (request.context.language or "").lower()
    return language.startswith("en") or has_english(draft.lower)


def _findings(matches: Matches, conditions: dict[str, bool]) -> list[Finding]:
    findings: list[Finding] = []
    for hits in matches.by_rule.values():
        rule = hits[0].rule
        if rule.severity is None or not all(conditions.get(c, False) for c in rule.only_when):
            continue
        severity: Severity = rule.severity
        if any(conditions.get(c, False) for c in rule.error_when):
            severity = "error"
        if rule.scope == "customer":
            assert matches.customer is not None
            if not _unaddressed(rule, matches):
                continue
            findings.append(finding_for(hits[0], matches.customer, severity, "customer_message"))
        else:
            findings.extend(finding_for(h, matches.draft, severity, "draft") for h in _distinct(hits))
    findings = _drop_overlapped(findings)
    findings.sort(key=lambda f: (f.span.source != "draft" if f.span else True, f.span.start if f.span else 0,
                                 _SEVERITY_RANK[f.severity]))
    return findings


def _unaddressed(rule: Rule, matches: Matches) -> bool:
    """A point in the customer's message that the draft does not take up."""
    if any(matches.signal(name) for name in rule.addressed_by_signals):
        return False
    return rule.addressed_by is None or rule.addressed_by.search(matches.draft.lower) is None


def _distinct(hits: list[Match]) -> list[Match]:
    """Matches of one rule that do not overlap each other (hits come in text order), at most
    ``MAX_FINDINGS_PER_RULE``: the same phrase twenty times over needs saying once."""
    kept: list[Match] = []
    for h in sorted(hits, key=lambda h: h.start):
        if kept and h.start < kept[-1].end:
            continue
        kept.append(h)
        if len(kept) == MAX_FINDINGS_PER_RULE:
            break
    return kept


def _drop_overlapped(findings: list[Finding]) -> list[Finding]:
    """A milder finding on the same criterion over the same words as a stronger one adds nothing."""
    kept: list[Finding] = []
    for f in sorted(findings, key=lambda f: _SEVERITY_RANK[f.severity]):
        if f.span is not None and any(
            k.criterion == f.criterion and k.span is not None and k.span.source == f.span.source
            and f.span.start < k.span.end and k.span.start < f.span.end
            for k in kept
        ):
            continue
        kept.append(f)
    return kept
