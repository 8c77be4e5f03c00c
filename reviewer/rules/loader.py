"""Reads the rule data (``data/*.yaml``) and compiles each rule's patterns once, on first use.

The YAML files are the source; ``data/snapshot.json`` holds them already parsed (made by
``python -m reviewer.rules``) and is used only while it matches them byte for byte.

Pattern syntax (plain Python regular expressions, matched against the
normalised text, so curly and straight apostrophes are the same):

- patterns are written in lower case and read a lower-cased copy of the text (matching
  that way is several times faster than ``re.IGNORECASE``); a rule with
  ``case_sensitive: true`` reads the text as written instead (shouting in capitals);
- a literal space matches any run of whitespace, line breaks included;
- ``{NAME}`` expands a macro from ``data/macros.yaml`` (for example ``{IM}`` for
  "I'm" / "I am");
- each pattern is anchored at word boundaries on both ends (``anchored: false`` turns
  that off, e.g. for a pattern that is only a question mark);
- ``span: sentence`` reports the whole sentence holding a match, not just the match.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

from reviewer.models import CriterionId, Severity
from reviewer.rubric import CRITERION_IDS
from reviewer.rules.prefilter import required_literals

_BOUNDARY_BEFORE = r"(?<![\w'])"  # not preceded by a letter, digit, underscore or apostrophe
_MACRO = re.compile(r"\{([A-Z_]+)\}")
_UPPER_OUTSIDE_ESCAPE = re.compile(r"(?<!\\)[A-Z]")
CONDITIONS = frozenset({"customer-repeat", "customer-rejected", "no-apology", "no-step", "re-ask", "customer-need"})


@dataclass(frozen=True)
class Part:
    """One pattern of a rule, with the literals it cannot match without (None: unknown, always run)."""

    pattern: str
    triggers: frozenset[str] | None
    # The pattern is compiled without its leading word-boundary check, which the matcher does
    # instead (``matching.finditer``): a pattern that starts with a literal then gets the regex
    # engine's fast literal search, about a third quicker overall.
    boundary_before: bool = False

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """Compiled when first needed: a pattern whose literals never occur is never compiled."""
        return re.compile(self.pattern)


@dataclass(frozen=True)
class Rule:
    """One phrase family: where it looks, what it means, and what to say about it."""

    id: str
    criterion: CriterionId
    pattern: str  # all the rule's patterns as one regular expression (for tests and tools)
    parts: tuple[Part, ...] = ()  # the same patterns one by one: the engine runs only those whose literals occur
    severity: Severity | None = None  # None: a signal (evidence for a criterion), not a finding
    message: str = ""
    suggestion: str | None = None
    scope: str = "draft"  # draft | customer
    # The sources of ``unless``, ``requires`` and ``addressed_by`` (below), compiled when first needed.
    unless_pattern: str | None = None
    requires_pattern: str | None = None
    addressed_by_pattern: str | None = None
    error_when: tuple[str, ...] = ()  # conditions that raise a warning to an error
    only_when: tuple[str, ...] = ()  # conditions that must all hold for the rule to fire
    addressed_by_signals: tuple[str, ...] = ()  # customer rules: draft signals that also answer it
    signal: str | None = None  # the name a signal is known by in the criterion logic
    case_sensitive: bool = False
    any_language: bool = False  # also read drafts that are not in English (multilingual.yaml)
    whole_sentence: bool = False  # the finding or evidence is the whole sentence holding the match
    triggers: frozenset[str] | None = None  # literals every match holds one of (see prefilter.py)
    tags: tuple[str, ...] = field(default_factory=tuple)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    # Compiled on first use, like the parts: most rules never match a given draft, so most of these are
    # never needed (compiling them all cost ~10 ms of every `reviewer check`).
    @cached_property
    def unless(self) -> re.Pattern[str] | None:
        """A hard negative: in the same sentence, it cancels the match."""
        return _compiled(self.unless_pattern)

    @cached_property
    def requires(self) -> re.Pattern[str] | None:
        """The match counts only with this in the same sentence."""
        return _compiled(self.requires_pattern)

    @cached_property
    def addressed_by(self) -> re.Pattern[str] | None:
        """Customer rules: the draft answers the point."""
        return _compiled(self.addressed_by_pattern)


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern is not None else None


def _expand(pattern: str, macros: dict[str, str], depth: int = 0) -> str:
    if depth > 5:
        raise ValueError(f"macro nesting too deep in {pattern!r}")
    expanded = _MACRO.sub(lambda m: f"(?:{macros[m.group(1)]})", pattern)
    if _MACRO.search(expanded):
        return _expand(expanded, macros, depth + 1)
    return expanded


def pattern_source(patterns: list[str], macros: dict[str, str], case_sensitive: bool = False,
                   anchored: bool = True) -> str:
    """One alternation of all patterns, spaces flexible, anchored at word boundaries (unless told not to)."""
    parts = [_expand(p.strip(), macros).replace(" ", r"\s+") for p in patterns]
    if not case_sensitive:
        for part in parts:
            upper = _UPPER_OUTSIDE_ESCAPE.search(part.replace("(?-i:", ""))
            if upper:
                raise ValueError(f"pattern {part!r} has a capital letter; patterns read lower-cased text")
    body = "|".join(f"(?:{p})" for p in parts)
    return _BOUNDARY_BEFORE + "(?:" + body + r")(?![\w'])" if anchored else body


PREFILTER_FILE = "prefilter.yaml"  # derived literals, cached (regenerate: python -m reviewer.rules)
SNAPSHOT_FILE = "snapshot.json"  # every data/*.yaml as parsed, with their fingerprint (regenerate: the same)
_NOT_RULES = ("macros.yaml", PREFILTER_FILE)


def _parse_yaml(text: str) -> Any:
    import yaml  # only when the snapshot is stale: importing and parsing YAML was ~25 ms of each cold start

    # libyaml's C loader when PyYAML has it; a safe loader either way
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def data_sources() -> dict[str, bytes]:
    """The bytes of every ``data/*.yaml``, by file name."""
    data_dir = resources.files("reviewer.rules").joinpath("data")
    return {entry.name: entry.read_bytes() for entry in sorted(data_dir.iterdir(), key=lambda p: p.name)
            if entry.name.endswith(".yaml")}


def fingerprint(sources: dict[str, bytes]) -> str:
    """Identifies one state of the data files (the snapshot holds the one it was made from)."""
    digest = hashlib.sha256()
    for name, data in sorted(sources.items()):
        digest.update(name.encode("utf-8") + b"\0" + data + b"\0")
    return digest.hexdigest()


def parse_data(sources: dict[str, bytes]) -> dict[str, Any]:
    """Every data file parsed from its YAML: what ``data/snapshot.json`` holds under ``files``."""
    return {name: _parse_yaml(data.decode("utf-8")) for name, data in sources.items()}


def data_files() -> dict[str, Any]:
    """Every data file, parsed: from ``data/snapshot.json`` when it was made from these very files (JSON
    loads in a fraction of a millisecond), else from the YAML, which stays the one source of truth."""
    sources = data_sources()
    snapshot = resources.files("reviewer.rules").joinpath("data", SNAPSHOT_FILE)
    if snapshot.is_file():
        saved = json.loads(snapshot.read_text(encoding="utf-8"))
        if saved.get("fingerprint") == fingerprint(sources):
            files: dict[str, Any] = saved["files"]
            return files
    return parse_data(sources)


def pattern_key(pattern: str) -> str:
    """Identifies a rule's pattern in the prefilter cache."""
    return hashlib.sha1(pattern.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def load_rules() -> tuple[Rule, ...]:
    """Every rule of every data file, compiled; raises ValueError on malformed data."""
    files = data_files()
    macros: dict[str, str] = {k: str(v) for k, v in files["macros.yaml"].items()}
    cache: dict[str, list[str]] = files.get(PREFILTER_FILE) or {}
    rules: list[Rule] = []
    seen: set[str] = set()
    for name in sorted(files):
        if name in _NOT_RULES:
            continue
        for raw in files[name]["rules"]:
            rule = _build(raw, macros, cache)
            if rule.id in seen:
                raise ValueError(f"duplicate rule id {rule.id}")
            seen.add(rule.id)
            rules.append(rule)
    return tuple(rules)


def _build(raw: dict[str, Any], macros: dict[str, str], cache: dict[str, list[str]]) -> Rule:
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
    case_sensitive = bool(raw.get("case_sensitive", False))
    anchored = raw.get("anchored", True)
    pattern = pattern_source(raw["patterns"], macros, case_sensitive, anchored=anchored)
    parts = tuple(_part(pattern_source([p], macros, case_sensitive, anchored=anchored), cache, case_sensitive)
                  for p in raw["patterns"])
    every_part_filtered = all(part.triggers is not None for part in parts)
    return Rule(
        id=raw["id"],
        criterion=criterion,
        pattern=pattern,
        parts=parts,
        triggers=frozenset().union(*(p.triggers or () for p in parts)) if every_part_filtered else None,
        case_sensitive=case_sensitive,
        any_language=bool(raw.get("any_language", False)),
        whole_sentence=raw.get("span") == "sentence",
        severity=severity,
        message=raw.get("message", ""),
        suggestion=raw.get("suggestion"),
        scope=raw.get("scope", "draft"),
        unless_pattern=pattern_source(raw["unless"], macros) if raw.get("unless") else None,
        requires_pattern=pattern_source(raw["requires_in_sentence"], macros, anchored=False)
        if raw.get("requires_in_sentence") else None,
        error_when=tuple(raw.get("error_when", ())),
        only_when=tuple(raw.get("only_when", ())),
        addressed_by_pattern=pattern_source(raw["addressed_by"], macros) if raw.get("addressed_by") else None,
        addressed_by_signals=tuple(raw.get("addressed_by_signals", ())),
        signal=raw.get("signal"),
        tags=tuple(raw.get("tags", ())),
    )


def _part(pattern: str, cache: dict[str, list[str]], case_sensitive: bool) -> Part:
    boundary_before = pattern.startswith(_BOUNDARY_BEFORE)
    if boundary_before:
        pattern = pattern[len(_BOUNDARY_BEFORE):]
    cached = cache.get(pattern_key(pattern))
    found = frozenset(cached) if cached is not None else required_literals(re.compile(pattern))
    return Part(pattern, frozenset(found) if found and not case_sensitive else None, boundary_before)


def derive_prefilter_cache() -> dict[str, list[str]]:
    """The literals of every pattern, derived afresh: what ``data/prefilter.yaml`` should hold."""
    out: dict[str, list[str]] = {}
    for rule in load_rules():
        for part in rule.parts:
            found = required_literals(part.regex)
            out[pattern_key(part.pattern)] = sorted(found) if found else []
    return out
