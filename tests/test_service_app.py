"""Fast in-process tests of the app (httpx over ASGI) for what a real process can't easily be made to do:
an engine that raises, a model that never answers, and the serve command's decisions.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from reviewer import engine
from reviewer.cli import main
from reviewer.commands import serve
from reviewer.config import Settings
from reviewer.models import Review, ReviewRequest
from reviewer.service import auth
from reviewer.service.app import create_app
from reviewer.service.auth import key_matches
from reviewer.service.logs import JsonFormatter
from reviewer.service.readiness import ModelProbe

AUTH = {"Authorization": "Bearer k1"}


def make_client(**settings: Any) -> httpx.AsyncClient:
    app = create_app(Settings(api_keys=["k1"], rules_only=True, **settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", headers=AUTH)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


def raising_for(word: str) -> Callable[..., Any]:
    """An ``engine.areview`` that raises for drafts containing ``word`` and reviews the rest with the rules."""

    async def areview(request: ReviewRequest, settings: Settings | None = None) -> Review:
        if word in request.draft:
            raise RuntimeError(f"boom: {request.draft}")
        return engine.check(request)

    return areview


async def test_a_batch_item_that_raises_gets_an_error_and_the_others_succeed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "areview", raising_for("EXPLODE"))
    drafts = ["Thanks for waiting.", "EXPLODE please", "Sorry about the delay."]
    response = await client.post("/v1/reviews/batch", json={"requests": [{"draft": d} for d in drafts]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2]
    assert results[1]["review"] is None
    error = {"code": "review_failed", "message": "This item could not be reviewed.", "field": None}
    assert results[1]["error"] == error
    for i in (0, 2):
        assert results[i]["error"] is None
        Review.model_validate(results[i]["review"])
    metrics = (await client.get("/metrics")).text
    assert "reviewer_review_errors_total 1.0" in metrics


async def test_an_unexpected_exception_is_a_500_in_the_common_shape(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(engine, "areview", raising_for("EXPLODE"))
    with caplog.at_level(logging.ERROR, logger="reviewer"):
        response = await client.post("/v1/reviews", json={"draft": "EXPLODE secret-words"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "code": "internal_error",
            "message": "Internal error; the request id identifies it in the logs.",
            "field": None,
        }
    }
    assert response.headers["x-request-id"]
    formatted = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "RuntimeError" in formatted
    assert "secret-words" not in formatted  # the exception's message quotes the draft: not logged
    assert "Traceback" not in formatted


async def test_an_idle_server_admits_a_batch_larger_than_its_capacity(monkeypatch: pytest.MonkeyPatch) -> None:
    running = 0
    peak = 0

    async def slow(request: ReviewRequest, settings: Settings | None = None) -> Review:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return engine.check(request)

    monkeypatch.setattr(engine, "areview", slow)
    monkeypatch.setattr(engine, "resolve_model", lambda settings: "openai/pretend")
    async with make_client(max_concurrency=2, queue_limit=3) as c:
        response = await c.post("/v1/reviews/batch", json={"requests": [{"draft": f"Thanks {i}."} for i in range(8)]})
    assert response.status_code == 200
    assert [r["index"] for r in response.json()["results"]] == list(range(8))
    assert peak == 2  # never more than max_concurrency model calls at once


async def test_queue_limit_refuses_with_503_while_full(monkeypatch: pytest.MonkeyPatch) -> None:
    release = asyncio.Event()

    async def blocked(request: ReviewRequest, settings: Settings | None = None) -> Review:
        await release.wait()
        return engine.check(request)

    monkeypatch.setattr(engine, "areview", blocked)
    monkeypatch.setattr(engine, "resolve_model", lambda settings: "openai/pretend")
    async with make_client(max_concurrency=1, queue_limit=2) as c:
        admitted = [asyncio.create_task(c.post("/v1/reviews", json={"draft": "Thanks."})) for _ in range(3)]
        await asyncio.sleep(0.05)
        refused = await c.post("/v1/reviews", json={"draft": "Thanks."})
        too_big = await c.post("/v1/reviews/batch", json={"requests": [{"draft": "Thanks."}] * 2})
        release.set()
        done = await asyncio.gather(*admitted)
        after = await c.post("/v1/reviews", json={"draft": "Thanks."})
    assert [r.status_code for r in done] == [200, 200, 200]
    assert refused.status_code == too_big.status_code == 503
    assert refused.headers["retry-after"] == "1"
    assert after.status_code == 200  # capacity comes back once the queue drains


async def test_prompts_degrade_when_the_catalogue_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def no_prompts(name: str, package: str | None = None) -> Any:
        if name == "reviewer.prompts":
            raise ModuleNotFoundError(name)
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", no_prompts)
    async with make_client() as c:
        response = await c.get("/v1/prompts")
    assert response.status_code == 200
    body = response.json()
    assert body["available"] is False and body["prompts"] == [] and body["detail"] == "ModuleNotFoundError"


async def test_readiness_probe_is_bounded_and_cached() -> None:
    probe = ModelProbe("http://127.0.0.1:9/v1", timeout_s=0.5, ttl_s=60)  # port 9 (discard): nothing listens
    loop = asyncio.get_running_loop()
    started = loop.time()
    first = await probe.result()
    assert not first.reachable and first.checked
    assert loop.time() - started < 1.0
    assert await probe.result() is first  # cached: no second connection attempt
    assert (await ModelProbe(None).result()).checked is False


def test_key_comparison() -> None:
    keys = ["alpha-key", "beta-key"]
    assert key_matches("beta-key", keys)
    assert key_matches("alpha-key", keys)
    assert not key_matches("beta-ke", keys)
    assert not key_matches("beta-keyy", keys)
    assert not key_matches("", keys)
    assert not key_matches("alpha-key", [])
    assert key_matches("clé-ünicode", ["clé-ünicode"])


def test_json_formatter_writes_one_object_per_line() -> None:
    record = logging.LogRecord("reviewer.access", logging.INFO, __file__, 1, "request", None, None)
    record.request_id = "r1"
    record.status = 200
    record.marker = object()  # not plain data: left out, as litellm's markers are
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "r1" and entry["status"] == 200 and entry["msg"] == "request"
    assert "marker" not in entry


# -- the serve command -------------------------------------------------------------------------


def test_insecure_no_auth_allows_a_public_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.delenv("REVIEWER_API_KEYS", raising=False)
    monkeypatch.delenv("REVIEWER_MODEL", raising=False)
    monkeypatch.setenv("REVIEWER_RULES_ONLY", "false")  # so the value serve writes is undone after the test
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: calls.append({"app": app, **kwargs}))
    monkeypatch.setattr("logging.config.dictConfig", lambda config: None)  # keep pytest's logging as it is
    assert main(["serve", "--host", "0.0.0.0", "--port", "9999", "--insecure-no-auth", "--rules-only"]) == 0
    (call,) = calls
    assert call["app"] == "reviewer.service.app:app_from_env" and call["factory"] is True
    assert call["host"] == "0.0.0.0" and call["port"] == 9999 and call["workers"] == 1
    assert call["access_log"] is False


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        pytest.param(
            {"model": "openai/x", "api_base": "http://127.0.0.1:1/v1", "api_key": None, "fallback_models": "a,b",
             "timeout": 2.5, "prompt": "review@v1", "max_concurrency": 3, "queue_limit": None, "rules_only": True},
            {"REVIEWER_MODEL": "openai/x", "REVIEWER_API_BASE": "http://127.0.0.1:1/v1",
             "REVIEWER_FALLBACK_MODELS": "a,b", "REVIEWER_TIMEOUT_S": "2.5", "REVIEWER_PROMPT": "review@v1",
             "REVIEWER_MAX_CONCURRENCY": "3", "REVIEWER_RULES_ONLY": "true"},
            id="model-flags",
        ),
        pytest.param(  # every settings flag serve takes must arrive: the workers build their settings from it
            {"judge": "default", "deadline": 30.0, "drain_seconds": 5.0, "db": "reviews.db", "queue_limit": 0,
             "insecure_no_auth": True, "rules_only": None},
            {"REVIEWER_JUDGE": "default", "REVIEWER_DEADLINE_S": "30.0", "REVIEWER_DRAIN_S": "5.0",
             "REVIEWER_DB": "reviews.db", "REVIEWER_QUEUE_LIMIT": "0", "REVIEWER_INSECURE_NO_AUTH": "true"},
            id="service-flags",
        ),
    ],
)  # fmt: skip
def test_flags_reach_the_workers_through_the_environment(flags: dict[str, Any], expected: dict[str, str]) -> None:
    environ: dict[str, str] = {}
    serve.export_flags(argparse.Namespace(**flags), environ)
    assert environ == expected


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["serve", "--port", "70000"], {}, "port must be 1-65535"),
        (["serve", "--workers", "0"], {}, "must be at least 1"),
        (["serve"], {"REVIEWER_MAX_CONCURRENCY": "zero"}, "invalid setting REVIEWER_MAX_CONCURRENCY"),
        (["serve", "--host", "10.1.2.3"], {}, "refusing to listen on 10.1.2.3 without API keys"),
    ],
)
def test_bad_serve_input_is_one_line_and_exit_2(
    argv: list[str], env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.delenv("REVIEWER_API_KEYS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("must not start"))
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                               ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                                               ("192.168.1.5", False), ("example.org", False)])  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert auth.is_loopback(host) is loopback


def test_the_embedded_model_runs_one_review_at_a_time_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its server has one slot: reviews sent together would wait there with their deadlines running."""
    from reviewer import local
    from reviewer.service.app import Service

    monkeypatch.delenv("REVIEWER_MAX_CONCURRENCY", raising=False)
    assert Service(Settings(model=local.DEFAULT_MODEL)).admission.max_concurrency == 1
    assert Service(Settings(model=local.DEFAULT_MODEL, max_concurrency=3)).admission.max_concurrency == 3
    monkeypatch.setenv("REVIEWER_MAX_CONCURRENCY", "2")  # what `reviewer serve --max-concurrency 2` sets
    assert Service(Settings(model=local.DEFAULT_MODEL)).admission.max_concurrency == 2
    monkeypatch.delenv("REVIEWER_MAX_CONCURRENCY")
    hosted = Service(Settings(model="openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1"))
    assert hosted.admission.max_concurrency == Settings().max_concurrency == 4


def test_new_request_ids_are_unique_hex_tokens() -> None:
    from reviewer.service.middleware import new_request_id

    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
