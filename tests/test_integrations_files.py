"""The integration recipes under integrations/ stay in step with the CLI they call."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import FAKE_APOLOGY, run_cli

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "integrations" / "github-actions" / "review-macros.yml"

Capsys = pytest.CaptureFixture[str]


def _reviewer_commands(workflow: dict[str, Any]) -> list[str]:
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    return [step["run"] for step in steps if str(step.get("run", "")).startswith("reviewer ")]


def test_the_workflow_runs_real_commands_on_a_macros_folder(
    capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each `reviewer` step of the documented workflow, run here on a macros/ folder, does what its name says."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    commands = _reviewer_commands(workflow)
    assert len(commands) == 3
    (tmp_path / "macros").mkdir()
    (tmp_path / "macros" / "refund.txt").write_text(FAKE_APOLOGY)
    (tmp_path / "reviewer.toml").write_text('fail_on = "revise"\n')
    monkeypatch.chdir(tmp_path)
    codes = []
    for command in commands:
        argv = shlex.split(command.split(">")[0])
        outcome = run_cli(capsys, *argv[1:])
        codes.append(outcome.code)
        assert outcome.out.strip(), command
    assert codes == [0, 0, 1]  # annotate and SARIF never fail the job; the gate does
