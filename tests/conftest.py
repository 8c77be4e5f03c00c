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
