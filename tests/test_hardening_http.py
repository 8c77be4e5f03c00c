"""Issue 15, item 3: header limits and read timeouts in the service's error shape; a bounded graceful drain.

Raw sockets against a real ``reviewer serve`` on 127.0.0.1 (what an attacker sends is not
what an HTTP client library would let us send), and SIGTERM to a real process.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import signal
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fake_llm import FakeLLM, review_responder
from service_server import ServiceProcess

READ_TIMEOUT_S = 1.5
DRAFT = "I'm sorry the parcel is late. I've sent a replacement today; it arrives by Friday."


@pytest.fixture(scope="module")
def server() -> Iterator[ServiceProcess]:
    with ServiceProcess(["--rules-only"], env={"REVIEWER_READ_TIMEOUT_S": str(READ_TIMEOUT_S)}) as process:
        yield process


def exchange(server: ServiceProcess, data: bytes, wait_s: float = 5.0) -> tuple[int, dict[str, str], dict[str, object]]:
    """Send raw bytes, read until the server closes; (status, headers, JSON body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait_s) as sock:
        # the server may answer and close while we are still sending: then read what it said
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def test_an_oversized_header_gets_431_json_and_the_connection_closes(server: ServiceProcess) -> None:
    data = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024)  # never finished
    status, headers, body = exchange(server, data)
    assert status == 431 and headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert body == {"error": {"code": "headers_too_large", "message": body["error"]["message"], "field": None}}  # type: ignore[index]


def test_too_many_headers_get_431(server: ServiceProcess) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(150))
    status, _, body = exchange(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431 and body["error"]["code"] == "headers_too_large"  # type: ignore[index]


def test_a_request_head_never_finished_gets_408_after_the_read_timeout(server: ServiceProcess) -> None:
    started = time.monotonic()
    status, _, body = exchange(server, b"POST /v1/check HTTP/1.1\r\nHost: x\r\n")
    assert status == 408 and body["error"]["code"] == "request_timeout"  # type: ignore[index]
    # not refused early: the server waited out its read timeout (exchange() gives up after 5 s if it never answers)
    assert time.monotonic() - started >= READ_TIMEOUT_S


def test_a_connection_that_sends_nothing_is_closed_and_a_trickled_body_too(server: ServiceProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5.0) as idle:
        assert idle.recv(100) == b""  # closed after the read timeout, without a 408 a browser would misread
    head = b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"
    assert exchange(server, head)[0] == 408


def test_a_negative_content_length_gets_a_json_400(server: ServiceProcess) -> None:
    data = b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n{}"
    status, headers, body = exchange(server, data)
    assert status == 400 and headers["content-type"] == "application/json"
    assert body["error"]["code"] == "bad_request"  # type: ignore[index]


def test_normal_requests_and_keep_alive_still_work(server: ServiceProcess) -> None:
    with httpx.Client(base_url=server.url, timeout=10.0) as client:
        for _ in range(3):
            response = client.post("/v1/check", json={"draft": DRAFT}, headers={"X-Fine": "a" * 4000})
            assert response.status_code == 200
        time.sleep(2.0)  # longer than the read timeout, shorter than keep-alive: an idle connection is fine
        assert client.get("/healthz").status_code == 200


# -- draining ------------------------------------------------------------------------------------


def post(url: str) -> int:
    try:
        return httpx.post(f"{url}/v1/reviews", json={"draft": DRAFT}, timeout=30.0).status_code
    except httpx.TransportError:
        return 0  # dropped: no answer at all


def serve_model(fake: FakeLLM, drain_s: str) -> ServiceProcess:
    args = ["--model", "openai/fake-model", "--api-base", fake.base_url, "--api-key", "sk-fake",
            "--drain-seconds", drain_s]  # fmt: skip
    env = {"REVIEWER_MAX_RETRIES": "0", "REVIEWER_MAX_REWRITE_REASKS": "0", "REVIEWER_MAX_CONCURRENCY": "2",
           "REVIEWER_QUEUE_LIMIT": "20", "REVIEWER_TIMEOUT_S": "25"}  # fmt: skip
    return ServiceProcess(args, env=env)


def wait_for_gauges(url: str, in_flight: int, queued: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    want = {"reviewer_model_reviews_in_flight": in_flight, "reviewer_model_reviews_queued": queued}
    while time.monotonic() < deadline:
        text = httpx.get(f"{url}/metrics").text
        seen = {name: float(line.split()[1]) for line in text.splitlines() for name in want
                if line.startswith(name + " ")}  # fmt: skip
        if seen == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server never had {want}")


def sigterm_under_load(server: ServiceProcess, requests: int) -> tuple[list[int], float]:
    assert server.process is not None
    with concurrent.futures.ThreadPoolExecutor(requests) as pool:
        futures = [pool.submit(post, server.url) for _ in range(requests)]
        wait_for_gauges(server.url, in_flight=2, queued=requests - 2)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        statuses = [f.result() for f in futures]
        server.process.wait(timeout=30)
    return statuses, time.monotonic() - started


def test_sigterm_answers_the_queue_503_and_finishes_what_runs() -> None:
    with FakeLLM() as fake:
        fake.responder = review_responder(delay_s=2.0)
        with serve_model(fake, "5") as server:
            statuses, took = sigterm_under_load(server, 8)
            logs = server.logs()
    assert 0 not in statuses, statuses  # nothing dropped
    assert statuses.count(200) == 2 and statuses.count(503) == 6, statuses  # 2 running finish, 6 queued refused
    assert took < 5 + 5, took  # the drain period, and slack for a busy machine
    assert "draining" in logs


def test_running_reviews_slower_than_the_drain_come_back_degraded_not_dropped() -> None:
    with FakeLLM() as fake:
        fake.responder = review_responder(delay_s=20.0)
        with serve_model(fake, "3") as server:
            assert server.process is not None
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(httpx.post, f"{server.url}/v1/reviews", json={"draft": DRAFT}, timeout=30.0)
                           for _ in range(2)]  # fmt: skip
                wait_for_gauges(server.url, in_flight=2, queued=0)
                started = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                responses = [f.result() for f in futures]
                server.process.wait(timeout=30)
            took = time.monotonic() - started
    assert [r.status_code for r in responses] == [200, 200]
    for response in responses:
        engine = response.json()["engine"]
        assert engine["degraded"] and "shutting down" in engine["degraded_reason"]
    assert took < 3 + 5, took
