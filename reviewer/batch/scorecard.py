"""The figures of a scorecard, computed from a batch output's records: what the HTML report shows.

Verdict mix over time (by day, week or month, whichever gives a readable number of bars),
per agent and per team, the criteria each agent fails most, the most frequent findings with
example spans, and the worst replies to coach on. Pure data: :mod:`.report_html` draws it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

VERDICTS = ("send", "revise", "block")
_VERDICT_RANK = {"block": 0, "revise": 1, "send": 2}
UNASSIGNED = "(none)"
TOP_GROUPS = 25  # agents/teams shown one by one; the rest are summed as "(others)"
TOP_FINDINGS = 15
WORST = 10
EXAMPLES = 3


@dataclass
class Group:
    """One agent or team: its replies' verdict mix, mean score, and how often each criterion failed."""

    name: str
    verdicts: Counter[str] = field(default_factory=Counter)
    score_total: int = 0
    failed: Counter[str] = field(default_factory=Counter)

    @property
    def replies(self) -> int:
        return sum(self.verdicts.values())

    @property
    def mean_score(self) -> float:
        return self.score_total / self.replies if self.replies else 0.0

    def share(self, verdict: str) -> float:
        return self.verdicts[verdict] / self.replies if self.replies else 0.0

    def worst_criteria(self, n: int = 3) -> list[tuple[str, float]]:
        """The criteria this group fails most, with the share of its replies that fail each."""
        return [(criterion, count / self.replies) for criterion, count in self.failed.most_common(n) if count]


@dataclass
class FindingStat:
    rule_id: str
    criterion: str
    severity: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Scorecard:
    total: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    score_total: int = 0
    by_period: dict[str, Counter[str]] = field(default_factory=dict)
    period: str = "day"
    undated: int = 0
    first: datetime | None = None
    last: datetime | None = None
    agents: list[Group] = field(default_factory=list)
    teams: list[Group] = field(default_factory=list)
    findings: list[FindingStat] = field(default_factory=list)
    worst: list[dict[str, Any]] = field(default_factory=list)
    rules_versions: Counter[str] = field(default_factory=Counter)
    by_model: int = 0

    @property
    def mean_score(self) -> float:
        return self.score_total / self.total if self.total else 0.0


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (``Z`` too) or a Unix epoch in seconds or milliseconds; None for anything else."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        seconds = number / 1000 if number > 1e11 else number
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _period_key(moment: datetime, period: str) -> str:
    day = moment.astimezone(UTC).date()
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    if period == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.isoformat()


def choose_period(first: date, last: date) -> str:
    """Days for up to two months, weeks up to a year and a half, then months: about 10-80 bars."""
    span = (last - first).days
    if span <= 62:
        return "day"
    if span <= 550:
        return "week"
    return "month"


def build(records: Iterable[dict[str, Any]]) -> Scorecard:
    card = Scorecard()
    agents: dict[str, Group] = defaultdict(lambda: Group(""))
    teams: dict[str, Group] = defaultdict(lambda: Group(""))
    findings: dict[str, FindingStat] = {}
    dated: list[tuple[datetime, str]] = []
    candidates: list[tuple[tuple[int, int, int], int, dict[str, Any]]] = []
    for index, record in enumerate(records):
        review = record["review"]
        verdict = review["verdict"]
        card.total += 1
        card.verdicts[verdict] += 1
        card.score_total += review["score"]
        engine = review.get("engine", {})
        card.rules_versions[engine.get("rules_version", "?")] += 1
        card.by_model += engine.get("mode") == "llm"
        moment = parse_time(record.get("timestamp"))
        if moment is None:
            card.undated += 1
        else:
            dated.append((moment, verdict))
        # Only failures the judge was sure of: an abstention's fallback status is no reason to coach anyone.
        failed = [c["id"] for c in review["criteria"] if c["status"] == "fail" and c.get("decided", True)]
        for groups, name in ((agents, record.get("agent")), (teams, record.get("team"))):
            group = groups[name or UNASSIGNED]
            group.name = name or UNASSIGNED
            group.verdicts[verdict] += 1
            group.score_total += review["score"]
            group.failed.update(failed)
        errors = 0
        for finding in review["findings"]:
            if finding["severity"] == "suggestion":
                continue
            errors += finding["severity"] == "error"
            stat = findings.setdefault(
                finding["rule_id"],
                FindingStat(finding["rule_id"], finding["criterion"], finding["severity"], finding["message"]),
            )
            stat.count += 1
            span = finding.get("span") or {}
            example = " ".join(str(span.get("text", "")).split())
            if example and len(stat.examples) < EXAMPLES and example not in stat.examples:
                stat.examples.append(example)
        key = (_VERDICT_RANK.get(verdict, 2), review["score"], -errors)
        candidates.append((key, index, record))
        if len(candidates) > 4 * WORST:  # keep memory flat on millions of rows
            candidates.sort(key=lambda item: (item[0], item[1]))
            del candidates[WORST:]
    if dated:
        card.first = min(moment for moment, _ in dated)
        card.last = max(moment for moment, _ in dated)
        card.period = choose_period(card.first.date(), card.last.date())
        periods: dict[str, Counter[str]] = defaultdict(Counter)
        for moment, verdict in dated:
            periods[_period_key(moment, card.period)][verdict] += 1
        card.by_period = dict(sorted(periods.items()))
    card.agents = _top(agents.values())
    card.teams = _top(teams.values())
    card.findings = sorted(findings.values(), key=lambda s: (-s.count, s.rule_id))[:TOP_FINDINGS]
    candidates.sort(key=lambda item: (item[0], item[1]))
    card.worst = [record for _, _, record in candidates[:WORST]]
    return card


def _top(groups: Iterable[Group]) -> list[Group]:
    """The busiest groups by reply count; the rest summed into one "(others)" group."""
    ordered = sorted(groups, key=lambda g: (-g.replies, g.name))
    if len(ordered) <= TOP_GROUPS:
        return ordered
    others = Group(f"(others: {len(ordered) - TOP_GROUPS + 1})")
    for group in ordered[TOP_GROUPS - 1 :]:
        others.verdicts.update(group.verdicts)
        others.score_total += group.score_total
        others.failed.update(group.failed)
    return [*ordered[: TOP_GROUPS - 1], others]
