"""Reads the rule data (``data/*.yaml``) and compiles each rule's patterns once.

Pattern syntax (plain Python regular expressions, matched case-insensitively
against the normalised text, so curly and straight apostrophes are the same):

- a literal space matches any run of whitespace, line breaks included;
- ``{NAME}`` expands a macro from ``data/macros.yaml`` (for example ``{IM}`` for
  "I'm" / "I am");
- each pattern is anchored at word boundaries on both ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from reviewer.models import CriterionId, Severity
from reviewer.rubric import CRITERION_IDS

_MACRO = re.compile(r"\{([A-Z_]+)\}")
CONDITIONS = frozenset({"customer-repeat", "customer-rejected", "no-apology", "no-step", "re-ask", "customer-need"})


@dataclass(frozen=True)
class Rule:
    """One phrase family: where it looks, what it means, and what to say about it."""

    id: str
    criterion: CriterionId
    regex: re.Pattern[str]
    severity: Severity | None = None  # None: a signal (evidence for a criterion), not a finding
    message: str = ""
    suggestion: str | None = None
    scope: str = "draft"  # draft | customer
    unless: re.Pattern[str] | None = None  # a hard negative in the same sentence cancels the match
    error_when: tuple[str, ...] = ()  # conditions that raise a warning to an error
    only_when: tuple[str, ...] = ()  # conditions that must all hold for the rule to fire
    addressed_by: re.Pattern[str] | None = None  # customer rules: the draft answers the point
    signal: str | None = None  # the name a signal is known by in the criterion logic
    tags: tuple[str, ...] = field(default_factory=tuple)


def _expand(pattern: str, macros: dict[str, str], depth: int = 0) -> str:
    if depth > 5:
        raise ValueError(f"macro nesting too deep in {pattern!r}")
    expanded = _MACRO.sub(lambda m: f"(?:{macros[m.group(1)]})", pattern)
    if _MACRO.search(expanded):
        return _expand(expanded, macros, depth + 1)
    return expanded


def compile_patterns(patterns: list[str], macros: dict[str, str]) -> re.Pattern[str]:
    """One alternation of all patterns, spaces flexible, anchored at word boundaries."""
    parts = [_expand(p.strip(), macros).replace(" ", r"\s+") for p in patterns]
    return re.compile(r"(?<![\w'])(?:" + "|".join(f"(?:{p})" for p in parts) + r")(?![\w'])", re.IGNORECASE)


def _read(name: str) -> Any:
    return yaml.safe_load(resources.files("reviewer.rules").joinpath("data", name).read_text(encoding="utf-8"))


def load_rules() -> tuple[Rule, ...]:
    """Every rule of every data file, compiled; raises ValueError on malformed data."""
    macros: dict[str, str] = {k: str(v) for k, v in _read("macros.yaml").items()}
    rules: list[Rule] = []
    seen: set[str] = set()
    data_dir = resources.files("reviewer.rules").joinpath("data")
    for entry in sorted(data_dir.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".yaml") or entry.name == "macros.yaml":
            continue
        for raw in _read(entry.name)["rules"]:
            rule = _build(raw, macros)
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id}")
            seen.add(rule.id)
            rules.append(rule)
    return tuple(rules)


def _build(raw: dict[str, Any], macros: dict[str, str]) -> Rule:
    criterion = raw["criterion"]
    if criterion not in CRITERION_IDS:
        raise ValueError(f"rule {raw['id']}: unknown criterion {criterion}")
    conditions = (*raw.get("error_when", ()), *raw.get("only_when", ()))
    unknown = set(conditions) - CONDITIONS
    if unknown:
        raise ValueError(f"rule {raw['id']}: unknown conditions {sorted(unknown)}")
    severity = raw.get("severity")
    if severity is None and not raw.get("signal"):
        raise ValueError(f"rule {raw['id']}: needs a severity (a finding) or a signal name")
    return Rule(
        id=raw["id"],
        criterion=criterion,
        regex=compile_patterns(raw["patterns"], macros),
        severity=severity,
        message=raw.get("message", ""),
        suggestion=raw.get("suggestion"),
        scope=raw.get("scope", "draft"),
        unless=compile_patterns(raw["unless"], macros) if raw.get("unless") else None,
        error_when=tuple(raw.get("error_when", ())),
        only_when=tuple(raw.get("only_when", ())),
        addressed_by=compile_patterns(raw["addressed_by"], macros) if raw.get("addressed_by") else None,
        signal=raw.get("signal"),
        tags=tuple(raw.get("tags", ())),
    )
