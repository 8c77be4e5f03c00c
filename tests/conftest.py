"""Shared fixtures. ``fake_llm``: a started fake OpenAI-compatible server (see tests/fake_llm.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_llm import FakeLLM


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fake model server on 127.0.0.1:<random port>, stopped after the test."""
    with FakeLLM() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_local_model_by_default(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the default rules-only unless a test is marked ``local_model``: the [local] extra may be installed."""
    if request.node.get_closest_marker("local_model") is None:
        monkeypatch.setenv("REVIEWER_LOCAL_DEFAULT", "false")
