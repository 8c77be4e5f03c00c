"""Runs compiled rules over prepared text and turns matches into findings.

The flow for one request: match every rule (a hard negative in the same
sentence cancels a match) -> work out the conditions (repeat contact, no
apology, …) -> raise findings for the rules whose conditions hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewer.models import Finding, Severity, Span
from reviewer.rules.loader import Rule
from reviewer.rules.text import Prepared


@dataclass(frozen=True)
class Match:
    rule: Rule
    start: int
    end: int


@dataclass
class Matches:
    """All matches of one request, by rule id and by signal name."""

    draft: Prepared
    customer: Prepared | None
    by_rule: dict[str, list[Match]] = field(default_factory=dict)
    by_signal: dict[str, list[Match]] = field(default_factory=dict)

    def signal(self, name: str) -> list[Match]:
        return self.by_signal.get(name, [])


def match_rules(rules: tuple[Rule, ...], draft: Prepared, customer: Prepared | None) -> Matches:
    """Every match of every rule in the text the rule reads."""
    found = Matches(draft, customer)
    for rule in rules:
        prepared = customer if rule.scope == "customer" else draft
        if prepared is None:
            continue
        hits = [
            Match(rule, m.start(), m.end())
            for m in rule.regex.finditer(prepared.text)
            if m.end() > m.start() and not _cancelled(rule, prepared, m.start())
        ]
        if hits:
            found.by_rule[rule.id] = hits
            if rule.signal:
                found.by_signal.setdefault(rule.signal, []).extend(hits)
    return found


def _cancelled(rule: Rule, prepared: Prepared, pos: int) -> bool:
    """A hard negative (``unless``) anywhere in the same sentence cancels the match."""
    if rule.unless is None:
        return False
    start, end = prepared.sentences[prepared.sentence_index(pos)]
    return rule.unless.search(prepared.text, start, end) is not None


def span_of(prepared: Prepared, start: int, end: int, source: str) -> Span:
    """A span of the original text (offsets are shared with the prepared copy)."""
    return Span(start=start, end=end, text=prepared.original[start:end], source=source)  # type: ignore[arg-type]


def finding_for(match: Match, prepared: Prepared, severity: Severity, source: str) -> Finding:
    rule = match.rule
    return Finding(
        rule_id=rule.id,
        criterion=rule.criterion,
        severity=severity,
        span=span_of(prepared, match.start, match.end, source),
        message=rule.message,
        suggestion=rule.suggestion,
    )
