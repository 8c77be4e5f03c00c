"""Output a code host understands: SARIF 2.1.0 (code scanning) and GitHub Actions workflow commands.

Both show the same issues as ``--format lines`` (:func:`reviewer.commands.render.issues`): each finding,
then each failed criterion no finding explains. Positions are in characters (SARIF's
``columnKind: unicodeCodePoints``). Nothing here decides anything; the exit code stays the gate.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from reviewer import __version__
from reviewer.commands.render import Issue, Result, issues
from reviewer.rubric import CRITERIA_BY_ID

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_LEVEL = {"error": "error", "warning": "warning", "suggestion": "note"}
GITHUB_COMMAND = {"error": "error", "warning": "warning", "suggestion": "notice"}


def _uri(label: str) -> str:
    """A relative URI for a path label; ``<text>`` and ``<customer>`` are percent-encoded like any other name."""
    return quote(label.replace("\\", "/"), safe="/")


def _sarif_result(issue: Issue, verdict: str) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": issue.line, "startColumn": issue.column}
    if (issue.end_line, issue.end_column) != (issue.line, issue.column):
        region.update(endLine=issue.end_line, endColumn=issue.end_column)
    if issue.snippet:
        region["snippet"] = {"text": issue.snippet}
    text = issue.message + (f" Suggestion: {issue.suggestion}" if issue.suggestion else "")
    return {
        "ruleId": issue.rule_id,
        "level": SARIF_LEVEL[issue.severity],
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(issue.label)}, "region": region}}],
        "properties": {"criterion": issue.criterion, "verdict": verdict},
    }


def sarif(results: list[Result]) -> dict[str, Any]:
    """One SARIF 2.1.0 log: one run, a rule per rule id seen, a result per issue; each file's verdict in a property."""
    rules: dict[str, dict[str, Any]] = {}
    sarif_results = []
    for result in results:
        for issue in issues(result):
            criterion = CRITERIA_BY_ID[issue.criterion]
            rules.setdefault(
                issue.rule_id,
                {
                    "id": issue.rule_id,
                    "shortDescription": {"text": criterion.title},
                    "fullDescription": {"text": criterion.description},
                    "defaultConfiguration": {"level": SARIF_LEVEL[issue.severity]},
                    "properties": {"criterion": issue.criterion, "weight": criterion.weight},
                },
            )
            sarif_results.append(_sarif_result(issue, result.review.verdict))
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "reviewer", "version": __version__, "rules": list(rules.values())}},
                "columnKind": "unicodeCodePoints",
                "results": sarif_results,
                "properties": {"verdicts": {r.label: r.review.verdict for r in results}},
            }
        ],
    }


def print_sarif(results: list[Result]) -> None:
    print(json.dumps(sarif(results), indent=2, ensure_ascii=False))


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_lines(results: list[Result]) -> list[str]:
    """``::error file=…,line=…,col=…,endLine=…,endColumn=…,title=…::message`` per issue.

    Text and stdin drafts (``<text>``, ``-``) are not files of the repository: no ``file=`` then.
    """
    lines = []
    for result in results:
        for issue in issues(result):
            props = []
            if not (issue.label.startswith("<") or issue.label == "-"):
                props.append(f"file={_escape_property(issue.label)}")
            props += [f"line={issue.line}", f"col={issue.column}"]
            if (issue.end_line, issue.end_column) != (issue.line, issue.column):
                props += [f"endLine={issue.end_line}", f"endColumn={issue.end_column}"]
            props.append(f"title={_escape_property(f'reviewer {result.review.verdict}: {issue.rule_id}')}")
            message = issue.message
            if issue.snippet:
                message = f"“{issue.snippet}”: {message}"
            if issue.suggestion:
                message += f"\nSuggestion: {issue.suggestion}"
            lines.append(f"::{GITHUB_COMMAND[issue.severity]} {','.join(props)}::{_escape_data(message)}")
    return lines


def print_github(results: list[Result]) -> None:
    for line in github_lines(results):
        print(line)
