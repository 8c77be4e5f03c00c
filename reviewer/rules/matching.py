"""Runs compiled rules over prepared text and turns matches into findings.

The flow for one request: match every rule (a hard negative in the same
sentence cancels a match) -> work out the conditions (repeat contact, no
apology, …) -> raise findings for the rules whose conditions hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from reviewer.models import Finding, Severity, Span
from reviewer.rules.loader import Part, Rule
from reviewer.rules.prefilter import TriggerIndex
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


class RuleSet:
    """Rules to run together, with one literal index per text they read (see prefilter.TriggerIndex)."""

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.draft_index = TriggerIndex({t for r in rules if r.scope != "customer" for t in r.triggers or ()})
        self.customer_index = TriggerIndex({t for r in rules if r.scope == "customer" for t in r.triggers or ()})
        # literal -> the (rule, part) positions it unlocks; parts without literals always run
        self.unlocks: dict[str, dict[str, list[tuple[int, int]]]] = {"draft": {}, "customer": {}}
        self.always: dict[str, list[tuple[int, int]]] = {"draft": [], "customer": []}
        for i, rule in enumerate(rules):
            scope = "customer" if rule.scope == "customer" else "draft"
            for j, part in enumerate(rule.parts):
                if part.triggers is None:
                    self.always[scope].append((i, j))
                else:
                    for literal in part.triggers:
                        self.unlocks[scope].setdefault(literal, []).append((i, j))

    def to_run(self, scope: str, present: set[str]) -> list[tuple[int, int]]:
        """The (rule, part) positions whose literals occur, in rule order."""
        positions = set(self.always[scope])
        unlocks = self.unlocks[scope]
        for literal in present:
            positions.update(unlocks.get(literal, ()))
        return sorted(positions)


def match_rules(rules: RuleSet | tuple[Rule, ...], draft: Prepared, customer: Prepared | None) -> Matches:
    """Every match of every rule in the text the rule reads."""
    ruleset = rules if isinstance(rules, RuleSet) else RuleSet(rules)
    hits = match_scope(ruleset, "draft", draft)
    if customer is not None:
        hits.update(match_scope(ruleset, "customer", customer))
    return assemble(ruleset, draft, customer, hits)


ScopeHits = dict[int, tuple[Match, ...]]  # rule index -> its matches in one text (rules without any left out)


def match_scope(ruleset: RuleSet, scope: str, prepared: Prepared) -> ScopeHits:
    """The matches of the rules of one scope (``draft`` or ``customer``) in the text they read."""
    index = ruleset.draft_index if scope == "draft" else ruleset.customer_index
    verdicts: dict[tuple[str, int], bool] = {}  # (rule, sentence) -> cancelled by a hard negative
    parts_by_rule: dict[int, list[int]] = {}
    for i, j in ruleset.to_run(scope, index.present(prepared.lower)):
        parts_by_rule.setdefault(i, []).append(j)
    found: ScopeHits = {}
    for i, part_indexes in parts_by_rule.items():
        rule = ruleset.rules[i]
        text = prepared.text if rule.case_sensitive else prepared.lower
        hits: list[Match] = []
        for j in part_indexes:
            for start, end in finditer(rule.parts[j], text):
                if end > start and not _cancelled(rule, prepared, start, end, verdicts):
                    hits.append(Match(rule, start, end))
        if len(hits) > 1:
            hits = _leftmost_longest(hits)
        if hits and rule.whole_sentence:
            hits = _whole_sentences(hits, prepared)
        if hits:
            found[i] = tuple(hits)
    return found


def assemble(ruleset: RuleSet, draft: Prepared, customer: Prepared | None, hits: ScopeHits) -> Matches:
    """One request's matches, by rule id and by signal name, in rule order."""
    found = Matches(draft, customer)
    for i in sorted(hits):
        rule = ruleset.rules[i]
        found.by_rule[rule.id] = list(hits[i])
        if rule.signal:
            found.by_signal.setdefault(rule.signal, []).extend(hits[i])
    return found


def finditer(part: Part, text: str) -> Iterator[tuple[int, int]]:
    """Non-overlapping matches of one pattern, checking the word boundary before each start
    (equivalent to a look-behind in the pattern, which would disable the fast literal search)."""
    regex = part.regex
    if not part.boundary_before:
        for found in regex.finditer(text):
            yield found.start(), found.end()
        return
    pos = 0
    while True:
        m = regex.search(text, pos)
        if m is None:
            return
        start = m.start()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_'"):
            pos = start + 1
            continue
        yield start, m.end()
        pos = m.end() if m.end() > start else start + 1


def _leftmost_longest(hits: list[Match]) -> list[Match]:
    """Matches of several patterns of one rule, in text order, without overlaps (longest first)."""
    hits.sort(key=lambda h: (h.start, -h.end))
    kept = [hits[0]]
    for h in hits[1:]:
        if h.start >= kept[-1].end:
            kept.append(h)
    return kept


def _whole_sentences(hits: list[Match], prepared: Prepared) -> list[Match]:
    """One match per sentence, widened to the sentence without its surrounding spaces."""
    out: list[Match] = []
    seen: set[int] = set()
    for h in hits:
        index = prepared.sentence_index(h.start)
        if index in seen:
            continue
        seen.add(index)
        start, end = prepared.sentences[index]
        piece = prepared.original[start:end]
        start += len(piece) - len(piece.lstrip())
        end -= len(piece) - len(piece.rstrip())
        out.append(Match(h.rule, start, end))
    return out


def _cancelled(rule: Rule, prepared: Prepared, pos: int, pos_end: int,
               verdicts: dict[tuple[str, int], bool] | None = None) -> bool:
    """A hard negative (``unless``) in the same sentence cancels the match, and so does a missing
    ``requires`` (looked for in the sentence outside the match itself)."""
    if rule.unless is None and rule.requires is None:
        return False
    index = prepared.sentence_index(pos)
    start, end = prepared.sentences[index]
    if rule.unless is not None:
        key = (rule.id, index)  # a rule always reads the same text, so the sentence index is enough
        cancelled = verdicts.get(key) if verdicts is not None else None
        if cancelled is None:
            cancelled = rule.unless.search(prepared.lower, start, end) is not None
            if verdicts is not None:
                verdicts[key] = cancelled
        if cancelled:
            return True
    if rule.requires is None:
        return False
    return (rule.requires.search(prepared.lower, start, pos) is None
            and rule.requires.search(prepared.lower, min(pos_end, end), end) is None)


def span_of(prepared: Prepared, start: int, end: int, source: str) -> Span:
    """A span of the original text (offsets are shared with the prepared copy)."""
    return Span(start=start, end=end, text=prepared.original[start:end], source=source)


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
