"""Cheap pre-checks: the literal pieces a pattern cannot match without.

Most rules match nothing in most replies, and ``"sorr" in text`` costs a
fraction of running a large regular expression. From each compiled pattern we
derive a set of literal strings such that every possible match contains at
least one of them; when none occurs in the text, the rule is skipped. When no
such set can be derived, the rule always runs. The derivation is conservative
by construction, and the tests check it against every rule's matches.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

# The standard library's own regex parser (Python >= 3.11 keeps it here; typeshed does not list it).
sre_parse: Any = importlib.import_module("re._parser")
sre_c: Any = importlib.import_module("re._constants")

# Words in nearly every reply: a piece among them filters little, so other pieces are preferred.
_COMMON_WORDS = (
    "a an and are as at be been but can do for get had has have he her his i i'm if in is it it's its me my no "
    "not now of on one or our out please so th that the their them there they this to up us was we we'll "
    "we're were what when will with would you your"
)
COMMON = frozenset(_COMMON_WORDS.split(" "))
MIN_LENGTH = 2  # shorter pieces occur in nearly every text and filter nothing (rare punctuation such as "?" excepted)


def required_literals(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Literal strings of which every match holds at least one; None when unknown."""
    try:
        parsed = sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # pragma: no cover - a pattern re compiled always parses
        return None
    if pattern.flags & re.IGNORECASE:
        return None
    found = _sequence(list(parsed))
    return frozenset(found) if found else None


def _sequence(items: list[tuple[Any, Any]]) -> set[str] | None:
    """Best (most selective) alternative set among the parts that every match must pass through."""
    candidates: list[set[str]] = []
    run: list[str] = []

    def close_run() -> None:
        if len(run) >= MIN_LENGTH or (len(run) == 1 and not run[0].isalnum() and not run[0].isspace()):
            candidates.append({"".join(run)})
        run.clear()

    for op, arg in items:
        if op is sre_c.LITERAL:
            run.append(chr(arg))
            continue
        close_run()
        sub: set[str] | None = None
        if op is sre_c.SUBPATTERN:
            sub = _sequence(list(arg[-1]))
        elif op is sre_c.BRANCH:
            sub = _branches(arg[1])
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)):
            low, _high, body = arg
            if low >= 1:
                sub = _sequence(list(body))
        elif op is sre_c.ATOMIC_GROUP if hasattr(sre_c, "ATOMIC_GROUP") else False:
            sub = _sequence(list(arg))
        if sub:
            candidates.append(sub)
    close_run()
    if not candidates:
        return None
    return max(candidates, key=_selectivity)


def _selectivity(pieces: set[str]) -> tuple[int, int, int]:
    """Fewer common words first, then longer shortest piece, then fewer pieces."""
    return (-sum(p.strip() in COMMON for p in pieces), min(len(p) for p in pieces), -len(pieces))


class TriggerIndex:
    """Finds, in one pass, which of many literals occur in a text.

    One regular expression shaped like a trie of all the literals, tried at every
    position (a zero-width look-ahead), reports the longest literal starting there;
    every literal inside it is then present too. ``present(text)`` feeds a cheap
    ``rule.triggers.isdisjoint(present)`` per rule.
    """

    def __init__(self, literals: set[str]) -> None:
        self.literals = frozenset(literals)
        self._regex = re.compile("(?=(" + _trie_pattern(sorted(self.literals)) + "))") if literals else None
        self._inside: dict[str, frozenset[str]] = {}

    def present(self, text: str) -> set[str]:
        found: set[str] = set()
        if self._regex is None:
            return found
        for match in self._regex.finditer(text):
            longest = match.group(1)
            inside = self._inside.get(longest)
            if inside is None:
                inside = frozenset(lit for lit in self.literals if lit in longest)
                self._inside[longest] = inside
            found |= inside
        return found


def _trie_pattern(words: list[str]) -> str:
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _node_pattern(trie)


def _node_pattern(node: dict[str, Any]) -> str:
    ends = "" in node
    alternatives = [re.escape(ch) + _node_pattern(child) for ch, child in sorted(node.items()) if ch]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if ends else body


def _branches(branches: list[Any]) -> set[str] | None:
    union: set[str] = set()
    for branch in branches:
        sub = _sequence(list(branch))
        if not sub:
            return None
        union |= sub
    return union
