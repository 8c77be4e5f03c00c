"""integrations/promptfoo: the Python provider gives the same reviews as the service the HTTP provider calls.

promptfoo itself is not installed here (it is an npm package); its two configs share ``tests.yaml``. This
renders each case the way the HTTP provider's body template does, posts it to a real ``reviewer serve``,
and compares the answer with what ``reviewer_provider.call_api`` returns for the same case, in both modes.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml
from fake_llm import FakeLLM, review_responder
from service_server import ServiceProcess

RECIPE = Path(__file__).resolve().parents[1] / "integrations" / "promptfoo"
KEY = "promptfoo-key"
MODEL = "openai/fake-model"
CASES: list[dict[str, Any]] = yaml.safe_load((RECIPE / "tests.yaml").read_text())
HTTP_PROVIDER: dict[str, Any] = yaml.safe_load((RECIPE / "promptfooconfig.yaml").read_text())["providers"][0]


def _provider() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reviewer_provider", RECIPE / "reviewer_provider.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PROVIDER = _provider()


def _render(template: Any, variables: dict[str, str]) -> Any:
    """The HTTP provider's body with its ``{{name}}`` placeholders filled, as promptfoo fills them."""
    if isinstance(template, dict):
        return {key: _render(value, variables) for key, value in template.items()}
    text = str(template)
    for name, value in variables.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def _http_body(case: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = _render(HTTP_PROVIDER["config"]["body"], {"prompt": case["vars"]["draft"], **case["vars"]})
    return body


def _comparable(review: dict[str, Any]) -> dict[str, Any]:
    """A review without what differs between two runs of the same review (timings, usage)."""
    engine = {k: v for k, v in review["engine"].items() if k not in ("latency_ms", "usage")}
    return {**review, "engine": engine}


def _provider_output(case: dict[str, Any], mode: str) -> dict[str, Any]:
    answer = PROVIDER.call_api(case["vars"]["draft"], {"config": {"mode": mode}}, {"vars": case["vars"]})
    assert "error" not in answer, answer
    output: dict[str, Any] = answer["output"]
    return output


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.responder = review_responder()
        yield server


@pytest.fixture(scope="module")
def service(fake: FakeLLM) -> Iterator[httpx.Client]:
    args = ["--model", MODEL, "--api-base", fake.base_url, "--api-key", "sk-fake", "--timeout", "10"]
    with ServiceProcess(args, env={"REVIEWER_API_KEYS": KEY}) as server, httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60.0
    ) as client:
        yield client


def test_the_http_provider_targets_v1_check_with_the_key_from_the_environment() -> None:
    config = HTTP_PROVIDER["config"]
    assert config["url"].endswith("/v1/check") and config["method"] == "POST"
    assert config["headers"]["Authorization"] == "Bearer {{env.REVIEWER_API_KEY}}"
    assert config["validateStatus"] == "status === 200"
    assert set(config["body"]) == {"draft", "customer_message"}


@pytest.mark.parametrize("case", CASES, ids=[c["description"] for c in CASES])
def test_python_provider_check_equals_the_services_v1_check(service: httpx.Client, case: dict[str, Any]) -> None:
    served = service.post("/v1/check", json=_http_body(case))
    assert served.status_code == 200, served.text
    mine = _provider_output(case, "check")
    assert mine["verdict"] == served.json()["verdict"] == case["vars"]["expect"]
    assert _comparable(mine) == _comparable(served.json())  # reasons, criteria_by_id, findings: all of it


@pytest.mark.parametrize("case", CASES[:3], ids=[c["description"] for c in CASES[:3]])
def test_python_provider_review_equals_the_services_v1_reviews(
    service: httpx.Client, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch, case: dict[str, Any]
) -> None:
    """Mode ``review`` reads the model from REVIEWER_* like the service: both ask the same fake model."""
    for name, value in {"MODEL": MODEL, "API_BASE": fake.base_url, "API_KEY": "sk-fake", "TIMEOUT_S": "10"}.items():
        monkeypatch.setenv(f"REVIEWER_{name}", value)
    served = service.post("/v1/reviews", json=_http_body(case))
    assert served.status_code == 200, served.text
    mine = _provider_output(case, "review")
    assert mine["engine"]["mode"] == served.json()["engine"]["mode"] == "llm"
    assert not mine["engine"]["degraded"] and not served.json()["engine"]["degraded"]
    assert (mine["verdict"], mine["reasons"], mine["summary"]) == (
        served.json()["verdict"], served.json()["reasons"], served.json()["summary"]
    )


def test_bad_input_is_an_error_for_promptfoo_as_it_is_a_422_for_the_service(service: httpx.Client) -> None:
    answer = PROVIDER.call_api("   ", {"config": {}}, {"vars": {}})
    assert answer == {"error": "invalid request: draft: Value error, draft is empty"}
    assert service.post("/v1/check", json={"draft": "   "}).status_code == 422
    assert "error" in PROVIDER.call_api("Hi", {"config": {"mode": "judge"}}, {"vars": {}})
