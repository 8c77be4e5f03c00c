"""Issue 15, item 5: upstream error text stays out, the keyless app refuses non-loopback callers, bad settings
are one line (exit 2), and every route answers a lone surrogate alike.

Real processes on 127.0.0.1 (``reviewer serve``, and uvicorn on the bare app factory). The one
check that needs a request arriving on a non-loopback address runs the factory's app in process
(an ASGI transport: no packet leaves this machine, nor even 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx
import pytest
from fake_llm import Fail, FakeLLM
from service_server import ServiceProcess, clean_env, free_port

from reviewer.service.app import app_from_env

SECRET = "sk-live-SECRET-4242"
DRAFT = "I'm sorry the parcel is late. I've sent a replacement today; it arrives by Friday."


def test_the_upstream_error_text_never_reaches_the_caller() -> None:
    with FakeLLM() as fake:
        echo = f"Incorrect API key provided: Authorization: Bearer {SECRET}; customer said: {DRAFT}"
        fake.responder = lambda request: Fail(401, message=echo)
        args = ["--model", "openai/fake-model", "--api-base", fake.base_url, "--api-key", SECRET]
        with ServiceProcess(args, env={"REVIEWER_MAX_RETRIES": "0"}) as server:
            response = httpx.post(f"{server.url}/v1/reviews", json={"draft": DRAFT}, timeout=30.0)
            logs = server.barrier()
    assert response.status_code == 200
    engine = response.json()["engine"]
    assert engine["degraded"]
    reason = engine["degraded_reason"]
    assert SECRET not in response.text and "Incorrect API key" not in reason
    assert "AuthenticationError 401 from openai" in reason, reason
    assert SECRET not in logs


def uvicorn_factory(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "reviewer.service.app:app_from_env", "--factory",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    return subprocess.Popen(command, env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_the_bare_app_factory_without_keys_says_so_and_serves_loopback() -> None:
    port = free_port()
    process = uvicorn_factory(port, {"REVIEWER_RULES_ONLY": "true"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = httpx.post(f"http://127.0.0.1:{port}/v1/check", json={"draft": DRAFT}, timeout=5.0)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response.status_code == 200
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0].decode()
    assert "authentication is off" in output and "loopback only" in output


@pytest.mark.parametrize(("insecure", "expected"), [(None, 403), ("true", 200)])
def test_the_keyless_app_refuses_a_request_that_arrived_on_a_public_address(
    monkeypatch: pytest.MonkeyPatch, insecure: str | None, expected: int
) -> None:
    for name in ("REVIEWER_API_KEYS", "REVIEWER_INSECURE_NO_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REVIEWER_RULES_ONLY", "true")
    monkeypatch.setenv("REVIEWER_CPU_PROCESSES", "false")
    if insecure:
        monkeypatch.setenv("REVIEWER_INSECURE_NO_AUTH", insecure)
    app = app_from_env()

    async def call() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://192.0.2.10:8080") as public:
            refused = await public.post("/v1/check", json={"draft": DRAFT})
            health = await public.get("/healthz")
        return refused, health

    response, health = asyncio.run(call())
    assert response.status_code == expected
    assert health.status_code == 200  # the open routes stay open
    if expected == 403:
        assert response.json()["error"]["code"] == "auth_required"


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "reviewer", "check", "Sorry about that."],
        [sys.executable, "-m", "reviewer", "serve", "--port", "1"],
        [sys.executable, "-m", "uvicorn", "reviewer.service.app:app_from_env", "--factory", "--port", "1"],
    ],
    ids=["check", "serve", "uvicorn-factory"],
)
def test_a_malformed_setting_is_one_line_and_exit_2(command: list[str]) -> None:
    env = clean_env({"REVIEWER_MODEL_API_BASES": '{"openai/x": '})
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["reviewer: error: invalid setting REVIEWER_MODEL_API_BASES: cannot parse its value "
                     + lines[0].split("cannot parse its value ", 1)[1]], result.stderr  # fmt: skip
    assert "Traceback" not in result.stderr + result.stdout


def test_every_route_answers_a_lone_surrogate_alike() -> None:
    body = b'{"draft": "Sorry \\ud800 about that."}'
    with ServiceProcess(["--rules-only"]) as server, httpx.Client(base_url=server.url, timeout=30.0) as client:
        headers = {"Content-Type": "application/json"}
        answers = [
            client.post("/v1/check", content=body, headers=headers),
            client.post("/v1/reviews", content=body, headers=headers),
            client.post("/v1/reviews/batch", content=b'{"requests": [' + body + b"]}", headers=headers),
        ]
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert len({a.json()["error"]["code"] for a in answers}) == 1
