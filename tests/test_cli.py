"""The ``reviewer`` dispatcher itself: help, version, unknown commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import assert_usage_error, run_cli

import reviewer
from reviewer.cli import COMMANDS, build_parser

Capsys = pytest.CaptureFixture[str]


def test_no_command_prints_help_and_exits_2(capsys: Capsys) -> None:
    outcome = run_cli(capsys)
    assert outcome.code == 2
    assert "usage: reviewer" in outcome.out and "check" in outcome.out


def test_version(capsys: Capsys) -> None:
    outcome = run_cli(capsys, "--version")
    assert outcome.code == 0
    assert outcome.out.strip() == f"reviewer {reviewer.__version__}"


def test_unknown_command(capsys: Capsys) -> None:
    assert_usage_error(run_cli(capsys, "frobnicate"), "invalid choice")


def test_check_and_schema_are_always_there() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    for name in ("check", "schema"):
        assert name in COMMANDS and name in help_text


def test_check_help_documents_the_argument_rule(capsys: Capsys) -> None:
    outcome = run_cli(capsys, "check", "--help")
    assert outcome.code == 0
    for flag in ("--text", "--customer-file", "--format", "--fail-on", "--model", "--rules-only", "--allowed-remedy"):
        assert flag in outcome.out


@pytest.mark.parametrize(
    "argv",
    [
        ["batch", "{rows}", "-o", "{missing}/out.jsonl"],
        ["eval", "--model", "rules", "--cases", "{cases}", "--out", "{missing}/deeper/run"],
    ],
)
def test_an_output_path_that_cannot_be_written_is_one_line_and_exit_2(
    argv: list[str], capsys: Capsys, tmp_path: Path
) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"id": "1", "draft": "Sorry you feel that way."}\n', encoding="utf-8")
    blocker = tmp_path / "a-file"  # a folder path that runs through a file can never be created
    blocker.write_text("x", encoding="utf-8")
    cases = Path(reviewer.__file__).resolve().parents[1] / "evals" / "cases" / "facts.yaml"
    filled = [a.format(rows=rows, missing=blocker, cases=cases) for a in argv]
    assert_usage_error(run_cli(capsys, *filled), str(blocker))
