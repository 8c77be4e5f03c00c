"""The config file (`reviewer.toml` / `[tool.reviewer]`), its precedence, and `reviewer config`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_helpers import assert_usage_error, run_cli

from reviewer.config import ConfigFileError, Settings, find_config_file

Capsys = pytest.CaptureFixture[str]
REVISE_DRAFT = "Thanks for waiting."  # no apology, no next step: revise, never block


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No REVIEWER_* from the machine (except the conftest's local-model switch); start in an empty folder."""
    for name in list(os.environ):
        if name.startswith("REVIEWER_") and name != "REVIEWER_LOCAL_DEFAULT":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_flags_beat_env_beat_file_beat_defaults(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    file = 'model = "openai/from-file"\ntimeout_s = 11\nprompt = "review@v1"\nmax_reasks = 1\n'
    _write(tmp_path / "reviewer.toml", file)
    monkeypatch.setenv("REVIEWER_TIMEOUT_S", "22")
    monkeypatch.setenv("REVIEWER_PROMPT", "review-small@v2")

    settings = Settings()
    assert (settings.model, settings.timeout_s, settings.prompt, settings.max_reasks) == (
        "openai/from-file", 22.0, "review-small@v2", 1,
    )
    outcome = run_cli(capsys, "config", "--json", "--prompt", "polish@v3")
    assert outcome.code == 0, outcome
    shown = json.loads(outcome.out)
    assert shown["file"] == str(tmp_path / "reviewer.toml")
    got = {name: (entry["value"], entry["source"]) for name, entry in shown["settings"].items()}
    assert got["prompt"] == ("polish@v3", "flag")
    assert got["timeout_s"] == (22.0, "env REVIEWER_TIMEOUT_S")
    assert got["model"] == ("openai/from-file", str(tmp_path / "reviewer.toml"))
    assert got["max_reasks"] == (1, str(tmp_path / "reviewer.toml"))
    assert got["max_retries"] == (3, "default")


def test_text_output_names_the_file_and_each_source(capsys: Capsys, tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", '[project]\nname = "macros"\n\n[tool.reviewer]\nfail_on = "revise"\n')
    outcome = run_cli(capsys, "config", "--model", "openai/m")
    assert outcome.code == 0
    lines = outcome.out.splitlines()
    assert lines[0] == f"# config file: {tmp_path / 'pyproject.toml'} [tool.reviewer]"
    fail_on = next(line for line in lines if line.startswith("fail_on "))
    assert "revise" in fail_on and fail_on.endswith(f"# {tmp_path / 'pyproject.toml'} [tool.reviewer]")
    model = next(line for line in lines if line.startswith("model "))
    assert "openai/m" in model and model.endswith("# flag")


def test_found_upward_nearest_first_and_pyproject_only_with_its_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "reviewer.toml", "max_retries = 1\n")
    _write(tmp_path / "repo" / "pyproject.toml", '[project]\nname = "x"\n')  # no [tool.reviewer]: skipped
    deep = tmp_path / "repo" / "macros" / "refunds"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_config_file() is not None and find_config_file().path == tmp_path / "reviewer.toml"  # type: ignore[union-attr]
    assert Settings().max_retries == 1

    _write(tmp_path / "repo" / "pyproject.toml", '[project]\nname = "x"\n[tool.reviewer]\nmax_retries = 2\n')
    assert Settings().max_retries == 2  # the nearer file wins

    _write(tmp_path / "repo" / "macros" / "reviewer.toml", "max_retries = 4\n")
    assert Settings().max_retries == 4  # reviewer.toml in a nearer folder wins over both


def test_reviewer_config_names_a_file_explicitly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = _write(tmp_path / "ci" / "settings.toml", "queue_limit = 3\n")
    monkeypatch.setenv("REVIEWER_CONFIG", str(elsewhere))
    assert Settings().queue_limit == 3
    monkeypatch.setenv("REVIEWER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigFileError, match=r"missing\.toml: no such file"):
        Settings()


def test_fail_on_from_the_file_is_the_gate_and_the_flag_still_wins(capsys: Capsys, tmp_path: Path) -> None:
    assert run_cli(capsys, "check", "--rules-only", "--format", "lines", REVISE_DRAFT).code == 0  # default: block
    _write(tmp_path / "reviewer.toml", 'fail_on = "revise"\nrules_only = true\n')
    assert run_cli(capsys, "check", "--format", "lines", REVISE_DRAFT).code == 1
    assert run_cli(capsys, "check", "--format", "lines", "--fail-on", "block", REVISE_DRAFT).code == 0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("timeout = 3\n", "unknown setting 'timeout'"),
        ("timeout_s = \n", "not valid TOML"),
        ('timeout_s = "soon"\n', "Input should be a valid number"),
        ('fail_on = "always"\n', "fail_on"),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2(capsys: Capsys, tmp_path: Path, text: str, fragment: str) -> None:
    _write(tmp_path / "reviewer.toml", text)
    for argv in (("check", "--format", "lines", REVISE_DRAFT), ("config",), ("serve", "--port", "9")):
        assert_usage_error(run_cli(capsys, *argv), fragment)


def test_secrets_are_masked(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_API_KEYS", "k1,k2")
    outcome = run_cli(capsys, "config", "--api-key", "sk-secret")
    assert outcome.code == 0 and "sk-secret" not in outcome.out and "k1" not in outcome.out
    assert '["***", "***"]' in outcome.out


def test_flags_are_validated_like_the_environment(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from reviewer.cli import build_parser
    from reviewer.commands.model_flags import settings_from_args

    # `serve --db` gave the feedback store a str, and it crashed on `.parent`: flags are now typed like variables
    serve = settings_from_args(build_parser().parse_args(["serve", "--db", "fb.db", "--fallback-models", "a, b"]))
    assert serve.db == Path("fb.db") and serve.fallback_models == ["a", "b"]
    # a flag out of range is refused up front, named as the flag
    assert_usage_error(run_cli(capsys, "serve", "--queue-limit", "-1"), "--queue-limit")
    # a good flag overrides a bad variable, which is then never read
    monkeypatch.setenv("REVIEWER_JUDGE", "missing.judge")
    assert run_cli(capsys, "check", "--rules-only", "--judge", "none", REVISE_DRAFT).code == 0  # revise passes
    assert_usage_error(run_cli(capsys, "check", "--rules-only", REVISE_DRAFT), "REVIEWER_JUDGE", "missing.judge")
