"""A model-backed `reviewer check`, traced: every call between the package's modules goes one way.

The import graph (tests/test_import_graph.py) says what *may* call what; this records what
does, on a real run against the fake model server: which module calls a function of which
other module. That graph must have no cycle (no module calls back into one that called
it, directly or through others: a callback counts too), and the model path must be the
one documented in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

import pytest
from fake_llm import FakeLLM, review_responder
from test_import_graph import cycles

from reviewer.cli import main

DRAFT = "I'm sorry you feel that way. Per our policy, there is nothing we can do."
REWRITE = "I'm sorry we let you down. Your refund is on its way today. Thank you for telling us."


def traced_calls(argv: list[str]) -> tuple[int, dict[str, set[str]]]:
    """The exit code, and caller module -> the package's modules whose functions it called."""
    calls: dict[str, set[str]] = {}

    def profile(frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or frame.f_back is None or frame.f_code.co_name == "<module>":
            return
        callee = str(frame.f_globals.get("__name__", ""))
        caller = str(frame.f_back.f_globals.get("__name__", ""))
        if callee != caller and callee.startswith("reviewer") and caller.startswith("reviewer"):
            calls.setdefault(caller, set()).add(callee)

    sys.setprofile(profile)
    try:
        code = main(argv)
    finally:
        sys.setprofile(None)
    return code, calls


def test_a_model_backed_check_calls_one_way(fake_llm: FakeLLM, capsys: pytest.CaptureFixture[str]) -> None:
    fake_llm.responder = review_responder(rewrite=REWRITE)
    code, calls = traced_calls(["check", "--text", DRAFT, "--model", "openai/anything", "--api-base",
                                fake_llm.base_url, "--format", "json", "--rewrite"])
    assert code == 1  # blocked: the fake apology
    assert '"mode": "llm"' in capsys.readouterr().out  # the model path really ran
    # the path: check -> engine -> model_review -> llm -> providers, then merge and verdict
    for caller, callee in [("reviewer.commands.check", "reviewer.engine"), ("reviewer.engine", "reviewer.model_review"),
                           ("reviewer.model_review", "reviewer.llm"), ("reviewer.llm", "reviewer.providers"),
                           ("reviewer.model_review", "reviewer.merge"), ("reviewer.model_review", "reviewer.verdict"),
                           ("reviewer.verdict", "reviewer.rubric")]:
        assert callee in calls.get(caller, set()), (caller, callee)
    graph = {module: set() for module in {*calls, *(m for callees in calls.values() for m in callees)}}
    graph.update(calls)
    assert cycles(graph) == []
