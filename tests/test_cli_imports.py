"""``reviewer check`` on the rules path imports nothing heavy (the cold start target: bench/cold_start.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cli_helpers import FAKE_APOLOGY, HEAVY_MODULES


def _clean_env() -> dict[str, str]:
    """The environment for a fresh interpreter: no embedded model, no model or judge chosen by the machine."""
    env = {**os.environ, "REVIEWER_LOCAL_DEFAULT": "false", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("REVIEWER_MODEL", None)
    env.pop("REVIEWER_JUDGE", None)
    return env


def _imported_modules(*argv: str) -> tuple[set[str], int]:
    """Every module ``python -X importtime -m reviewer ARGV`` imported, and its exit code."""
    env = _clean_env()
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


def test_without_a_judge_chosen_the_judges_code_is_not_imported() -> None:
    modules, _ = _imported_modules("check", "--rules-only", FAKE_APOLOGY)
    assert "reviewer.judge_choice" in modules and "reviewer.judge" not in modules
    chosen, _ = _imported_modules("check", "--rules-only", "--judge", "default", FAKE_APOLOGY)
    assert "reviewer.judge" in chosen


def test_help_imports_nothing_heavy() -> None:
    modules, code = _imported_modules("check", "--help")
    assert code == 0
    assert _heavy(modules) == set()
    assert "pydantic_settings" not in modules  # add_arguments stays argparse-light


# --- lazy imports that keep the cold start down (issue 14: `reviewer check` starts in <= 0.4 s) -------------------


def _modules_after(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter (it must print nothing itself)."""
    env = _clean_env()
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_the_engine_and_the_check_command_loads_no_settings_repair_or_yaml() -> None:
    modules = _modules_after("import reviewer.engine, reviewer.commands.check, reviewer.commands.render")
    assert "reviewer.engine" in modules
    assert not modules & {"pydantic_settings", "reviewer.config", "reviewer.repair", "reviewer.rewrite", "yaml"}


def test_a_check_without_the_rewrite_loads_neither_the_repair_nor_settings() -> None:
    """``check(..., rewrite=False)`` (POST /v1/check, the eval harness's rules judgement) pays for none of it."""
    modules = _modules_after(
        "from reviewer.engine import check\n"
        f"assert check({FAKE_APOLOGY!r}, rewrite=False).verdict == 'block'"
    )
    assert "reviewer.rules" in modules
    assert not modules & {"pydantic_settings", "reviewer.repair", "reviewer.rewrite", "yaml"}


def test_the_default_check_loads_the_repair_but_no_yaml() -> None:
    modules = _modules_after(
        "from reviewer.engine import check\n"
        f"assert check({FAKE_APOLOGY!r}).rewrite is not None"
    )
    assert "reviewer.repair" in modules
    assert "yaml" not in modules  # the rules come from data/snapshot.json


@pytest.mark.parametrize("fmt", ["text", "json", "lines"])
def test_the_cli_rules_path_reads_no_yaml(fmt: str) -> None:
    modules, code = _imported_modules("check", "--rules-only", "--format", fmt, FAKE_APOLOGY)
    assert code == 1
    assert "reviewer.rules.loader" in modules
    assert "yaml" not in modules
