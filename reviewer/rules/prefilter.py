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


_WORD = re.compile(r"[^\W\d_]+")  # a run of letters: a literal of letters only can occur nowhere else


class TriggerIndex:
    """Finds which of many literals occur in a text.

    A literal made of letters only ("sorr", "apolog", "désolé") can only occur inside one run of
    letters of the text, so each distinct word of the text is looked up once: which literals are
    inside it is worked out the first time the word is seen (its substrings against the set) and
    kept, and replies reuse a small vocabulary. The few literals with other characters ("?",
    "e-mail", "must've") are looked for directly. ``present(text)`` feeds a cheap
    ``rule.triggers.isdisjoint(present)`` per rule. (It replaced one trie-shaped regular expression
    tried at every position: that took ~10 ms to compile at start-up and a quarter of ``rules.run``.)
    """

    # Words remembered (a few MB at most); past that (a flood of made-up words) they are worked out each time.
    MAX_WORDS = 50_000

    def __init__(self, literals: set[str]) -> None:
        self.literals = frozenset(literals)
        self._in_words = frozenset(lit for lit in self.literals if _WORD.fullmatch(lit))
        self._others = tuple(sorted(self.literals - self._in_words))
        self._longest = max((len(lit) for lit in self._in_words), default=0)
        self._inside: dict[str, frozenset[str]] = {}

    def present(self, text: str) -> set[str]:
        found = {lit for lit in self._others if lit in text}
        inside = self._inside
        for word in set(_WORD.findall(text)):
            hits = inside.get(word)
            if hits is None:
                hits = self._literals_in(word)
                if len(inside) < self.MAX_WORDS:
                    inside[word] = hits
            if hits:
                found |= hits
        return found

    def _literals_in(self, word: str) -> frozenset[str]:
        size, longest, literals = len(word), self._longest, self._in_words
        found = frozenset(
            word[i:j] for i in range(size) for j in range(i + 1, min(size, i + longest) + 1) if word[i:j] in literals
        )
        return found or _NONE  # most words hold no literal: they share one empty set


_NONE: frozenset[str] = frozenset()


def _branches(branches: list[Any]) -> set[str] | None:
    union: set[str] = set()
    for branch in branches:
        sub = _sequence(list(branch))
        if not sub:
            return None
        union |= sub
    return union
