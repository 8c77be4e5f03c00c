"""Showing reviews to people and tools: Rich text, JSON / JSON Lines, and ``path:line:col`` lines.

Decides nothing about a review; it only prints what the engine returned. Rich is
imported only by :func:`print_text`, so the ``json`` and ``lines`` formats stay light.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reviewer.models import CriterionResult, Finding, Review, ReviewRequest
from reviewer.rubric import CRITERIA_BY_ID, is_gating

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "suggestion": "cyan"}
HIGHLIGHT_STYLE = {"error": "bold white on red", "warning": "black on yellow", "suggestion": "underline"}
STATUS_STYLE = {"pass": "green", "fail": "bold red", "na": "dim"}
VERDICT_STYLE = {"send": "bold green", "revise": "bold yellow", "block": "bold white on red"}
WAY_OUT = ("To skip the model: --rules-only. On a busy machine: REVIEWER_LOCAL_THREADS=1. "
           "To give it longer: --deadline SECONDS.")


@dataclass(frozen=True)
class Result:
    """One reviewed input: its label (file path, ``-`` or ``<text>``), what was asked and the answer."""

    label: str
    request: ReviewRequest
    review: Review
    customer_label: str = "<customer>"


@dataclass(frozen=True)
class EngineNotice:
    """What produced the reviews, for people: which engine, why, and how to get the LLM review."""

    requested_model: str | None
    why_rules: str
    hint: str | None = None  # how to get the LLM review, when rules-only for want of a model

    def line(self, review: Review) -> str:
        engine = review.engine
        if engine.degraded:
            kept = "; the verified repair is shown" if review.rewrite is not None else ""
            return (f"rules only (degraded): the model {self.requested_model} gave no usable answer{kept} "
                    f"({engine.degraded_reason or 'unknown'}). {WAY_OUT}")
        if engine.mode == "llm":
            text = f"model {engine.model}"
            if engine.prompt_version:
                text += f", prompt {engine.prompt_version}"
            if engine.fallbacks_used:
                text += f" (after {engine.fallbacks_used} fallback(s))"
            return text
        return f"rules only ({self.why_rules})"

    def stderr_lines(self, results: list[Result]) -> list[str]:
        """Notices for the machine formats, whose stdout must stay parseable."""
        lines = [f"{r.label}: {self.line(r.review)}" for r in results if r.review.engine.degraded]
        if self.hint:
            lines.append(self.hint)
        return lines


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` in ``text``."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _located(result: Result, finding: Finding) -> tuple[str, int, int]:
    """Where a finding points: the draft's label, or the customer message's, with line and column."""
    span = finding.span
    if span is None:
        return result.label, 1, 1
    if span.source == "customer_message":
        line, column = position(result.request.customer_message or "", span.start)
        return result.customer_label, line, column
    line, column = position(result.request.draft, span.start)
    return result.label, line, column


@dataclass(frozen=True)
class Issue:
    """One line of the machine formats (``lines``, ``sarif``, ``github``): a finding, or a failed criterion.

    Positions are 1-based, in characters; ``end_*`` is where the span ends (exclusive).
    """

    label: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str
    message: str
    rule_id: str
    criterion: str
    snippet: str | None = None
    suggestion: str | None = None


def issues(result: Result) -> list[Issue]:
    """Each finding, then each failed criterion that no finding explains (gating: warning, else suggestion)."""
    found = []
    for finding in result.review.findings:
        label, line, column = _located(result, finding)
        end_line, end_column = line, column
        if finding.span is not None:
            text = result.request.draft if finding.span.source == "draft" else result.request.customer_message or ""
            end_line, end_column = position(text, finding.span.end)
        found.append(
            Issue(
                label, line, column, end_line, end_column, finding.severity, _one_line(finding.message),
                finding.rule_id, finding.criterion, finding.span.text if finding.span else None, finding.suggestion,
            )
        )
    explained = {finding.criterion for finding in result.review.findings}
    for criterion in result.review.criteria:
        if criterion.status == "fail" and criterion.id not in explained:
            severity = "warning" if is_gating(criterion.id) else "suggestion"
            message = _one_line(f"{CRITERIA_BY_ID[criterion.id].title}: {criterion.explanation}")
            found.append(Issue(result.label, 1, 1, 1, 1, severity, message, criterion.id, criterion.id))
    return found


def finding_lines(result: Result) -> list[str]:
    """``path:line:col: severity: message [rule_id]`` per finding, then failed criteria no finding explains."""
    return [f"{i.label}:{i.line}:{i.column}: {i.severity}: {i.message} [{i.rule_id}]" for i in issues(result)]


def print_lines(results: list[Result]) -> None:
    for result in results:
        for line in finding_lines(result):
            print(line)


def print_json(results: list[Result], as_lines: bool) -> None:
    """One Review as indented JSON, or JSON Lines ``{"path", "review"}`` when the inputs were files."""
    if not as_lines:
        print(results[0].review.model_dump_json(indent=2))
        return
    for result in results:
        print(json.dumps({"path": result.label, "review": result.review.model_dump(mode="json")}, ensure_ascii=False))


# --- Rich text ------------------------------------------------------------------------------------


def _highlighted(text: str, findings: list[Finding], source: str) -> Text:
    from rich.text import Text

    rendered = Text(text)
    # errors last, so they paint over overlapping warnings
    order = {"suggestion": 0, "warning": 1, "error": 2}
    for finding in sorted(findings, key=lambda f: order[f.severity]):
        span = finding.span
        if span is not None and span.source == source and span.end > span.start:
            rendered.stylize(HIGHLIGHT_STYLE[finding.severity], span.start, span.end)
    return rendered


def _finding_text(result: Result, finding: Finding) -> RenderableType:
    """A finding as a header line and, indented (also when wrapped), its message and suggestion."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    _, line, column = _located(result, finding)
    header = Text("  ")
    header.append(f"{finding.severity:<10}", style=SEVERITY_STYLE[finding.severity])
    header.append(f" {line}:{column}  ")
    if finding.span is not None:
        header.append(f"“{finding.span.text}”  ", style="bold")
    header.append(f"[{finding.rule_id}]", style="dim")
    body = Text(_one_line(finding.message))
    if finding.suggestion:
        body.append("\nsuggestion: ", style="green")
        body.append(finding.suggestion)
    return Group(header, Padding(body, (0, 0, 0, 6), expand=False))


def _judged(criterion: CriterionResult) -> Text:
    from rich.text import Text

    if criterion.decided:
        return Text(f"decided by {criterion.source}")
    return Text(f"{criterion.source} abstained", style="dim")


def _criteria_table(review: Review) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Criteria", title_justify="left", expand=False)
    table.add_column("criterion", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("judged", no_wrap=True)
    table.add_column("why", ratio=1)
    for criterion in review.criteria:
        table.add_row(
            Text(criterion.id),
            Text(criterion.status, style=STATUS_STYLE[criterion.status]),
            _judged(criterion),
            Text(criterion.explanation),
        )
    return table


def _print_result(console: Console, result: Result, notice: EngineNotice, with_label: bool) -> None:
    from rich.panel import Panel
    from rich.text import Text

    review = result.review
    if with_label:
        console.rule(Text(result.label), style="bold")
    draft_findings = [f for f in review.findings if f.span is None or f.span.source == "draft"]
    customer_findings = [f for f in review.findings if f.span is not None and f.span.source == "customer_message"]
    draft = _highlighted(result.request.draft, review.findings, "draft")
    console.print(Panel(draft, title="Draft", title_align="left"))
    verdict = Text("Verdict: ")
    verdict.append(f" {review.verdict.upper()} ", style=VERDICT_STYLE[review.verdict])
    verdict.append(f"   score {review.score}/100")
    console.print(verdict)
    if review.summary:
        console.print(Text(review.summary))
    console.print(_criteria_table(review))
    console.print(Text(f"Findings ({len(draft_findings)})", style="bold"))
    for finding in draft_findings:
        console.print(_finding_text(result, finding))
    if customer_findings:
        customer = _highlighted(result.request.customer_message or "", customer_findings, "customer_message")
        console.print(Panel(customer, title="Customer's message", title_align="left"))
        console.print(Text(f"In the customer's message ({len(customer_findings)})", style="bold"))
        for finding in customer_findings:
            console.print(_finding_text(result, finding))
    if review.rewrite is not None:
        rewrite = review.rewrite
        status_style = "green" if rewrite.status == "verified" else "yellow"
        by = "the repair" if rewrite.source == "repair" else "the model"
        title = Text.assemble("Rewrite (", (rewrite.status, status_style), f", by {by})")
        console.print(Panel(Text(rewrite.text), title=title, title_align="left"))
        if rewrite.placeholders:
            console.print(Text("  fill in before sending: " + ", ".join(rewrite.placeholders), style="cyan"))
        if rewrite.reason:
            console.print(Text(f"  why this one: {_one_line(rewrite.reason)}", style="dim"))
        for problem in rewrite.problems:
            console.print(Text(f"  unverified: {_one_line(problem)}", style="yellow"))
    console.print(Text(f"Engine: {notice.line(review)}", style="dim"))


def print_text(results: list[Result], notice: EngineNotice) -> None:
    """The human report: each draft with its spans highlighted, the criteria, verdict, findings, rewrite."""
    from rich.console import Console
    from rich.text import Text

    console = Console(file=sys.stdout, highlight=False, markup=False, emoji=False)
    several = len(results) > 1 or results[0].label not in ("<text>",)
    for result in results:
        _print_result(console, result, notice, with_label=several)
    if len(results) > 1:
        counts = {verdict: sum(r.review.verdict == verdict for r in results) for verdict in ("block", "revise", "send")}
        console.print(Text(f"{len(results)} drafts: " + ", ".join(f"{n} {v}" for v, n in counts.items()), style="bold"))
    if notice.hint:
        console.print(Text(notice.hint, style="dim"))
