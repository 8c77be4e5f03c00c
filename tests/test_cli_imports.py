"""``reviewer check`` on the rules path imports nothing heavy (the cold start target: bench/cold_start.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_helpers import FAKE_APOLOGY, HEAVY_MODULES


def _imported_modules(*argv: str) -> tuple[set[str], int]:
    """Every module ``python -X importtime -m reviewer ARGV`` imported, and its exit code."""
    env = {**os.environ, "REVIEWER_LOCAL_DEFAULT": "false", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("REVIEWER_MODEL", None)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "reviewer", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    modules = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                modules.add(name)
    assert modules, result.stderr
    return modules, result.returncode


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY_MODULES}


@pytest.mark.parametrize(
    "argv",
    [
        ("check", FAKE_APOLOGY),  # no model configured -> rules only
        ("check", "--rules-only", FAKE_APOLOGY),
        ("check", "--rules-only", "--format", "json", FAKE_APOLOGY),
        ("check", "--rules-only", "--format", "lines", FAKE_APOLOGY),
    ],
)
def test_rules_path_imports_nothing_heavy(argv: tuple[str, ...]) -> None:
    modules, code = _imported_modules(*argv)
    assert code in (0, 1)
    assert "reviewer.engine" in modules  # the review really ran
    assert _heavy(modules) == set()


def test_machine_formats_do_not_import_rich() -> None:
    modules, _ = _imported_modules("check", "--rules-only", "--format", "lines", FAKE_APOLOGY)
    assert not {m for m in modules if m.split(".")[0] == "rich"}


def test_help_imports_nothing_heavy() -> None:
    modules, code = _imported_modules("check", "--help")
    assert code == 0
    assert _heavy(modules) == set()
    assert "pydantic_settings" not in modules  # add_parser stays argparse-light
