"""Helpers for the CLI tests: run ``reviewer`` in-process and capture what it printed."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest

from reviewer.cli import main

# The phrase the README's example uses: every version of the rules must block it.
FAKE_APOLOGY = "I'm sorry you feel that way."
# A hard negative from the issue: a real apology that owns the mistake, with a remedy and a time.
GOOD_DRAFT = (
    "Thank you for telling us. I'm sorry you were charged twice — that's our mistake. "
    "I have refunded the second charge today; you will see it within 3 business days."
)
HEAVY_MODULES = (
    "litellm",
    "fastapi",
    "starlette",
    "uvicorn",
    "tenacity",
    "httpx",
    "openai",
    "aiohttp",
    "xllamacpp",
    "prometheus_client",
)


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Outcome:
    """``reviewer ARGV`` in this process; argparse's SystemExit becomes an exit code."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def feed_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Replace stdin with these bytes (with a ``.buffer``, like the real one)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def assert_usage_error(outcome: Outcome, *fragments: str) -> None:
    """Exit 2, exactly one line on stderr naming the problem, nothing on stdout, no traceback."""
    assert outcome.code == 2, outcome
    assert outcome.out == ""
    lines = outcome.err.strip().splitlines()
    assert len(lines) == 1, outcome.err
    assert "Traceback" not in outcome.err
    assert "error" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
