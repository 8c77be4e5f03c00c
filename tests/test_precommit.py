"""The pre-commit hooks of `.pre-commit-hooks.yaml`, run by pre-commit itself in a temporary git repository.

The hook repository is this checkout at its HEAD commit (pre-commit clones a ``rev``): commit a change
to the hook or the rules before this test can see it. ``reviewer`` (language: python) builds its own
environment with pip from the package index, about a minute with a warm pip cache; ``reviewer-system``
uses the ``reviewer`` command of this test's environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import FAKE_APOLOGY

ROOT = Path(__file__).resolve().parents[1]
GOOD_MACRO = "We're so sorry your parcel went missing. We've sent a replacement today; it arrives Friday."


def _git(repo: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def _head_with_hooks() -> str:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: pre-commit needs a commit of the hook repository")
    shown = subprocess.run(["git", "show", "HEAD:.pre-commit-hooks.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert shown.returncode == 0, ".pre-commit-hooks.yaml is not committed: the hook repository has no hooks"
    return head.stdout.strip()


@pytest.mark.parametrize("hook", ["reviewer", "reviewer-system"])
def test_the_hook_blocks_a_commit_with_a_fake_apology(tmp_path: Path, hook: str) -> None:
    rev = _head_with_hooks()
    repo = tmp_path / "macros-repo"
    (repo / "macros").mkdir(parents=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "REVIEWER_", "PRE_COMMIT"))},
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": os.devnull,
        # reviewer-system finds `reviewer` beside this interpreter
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    assert _git(repo, "init", "-q", env=env).returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {rev}\n    hooks:\n      - id: {hook}\n        files: ^macros/\n"
    )
    installed = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stderr
    (repo / "notes.txt").write_text(FAKE_APOLOGY)  # outside macros/: not the hook's business
    (repo / "macros" / "refund.txt").write_text(FAKE_APOLOGY)
    _git(repo, "add", "-A", env=env)

    blocked = _git(repo, "commit", "-m", "add refund macro", env=env)
    assert blocked.returncode != 0, blocked.stdout
    output = blocked.stdout + blocked.stderr
    assert "macros/refund.txt:1:5: error:" in output and "[fake-apology.feelings]" in output
    assert "notes.txt" not in output.replace(".pre-commit-config.yaml", "")
    assert _git(repo, "rev-parse", "--verify", "HEAD", env=env).returncode != 0  # nothing was committed

    (repo / "macros" / "refund.txt").write_text(GOOD_MACRO)
    _git(repo, "add", "-A", env=env)
    passed = _git(repo, "commit", "-m", "add refund macro", env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout + passed.stderr
