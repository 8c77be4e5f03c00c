"""Issue 15, item 2: admission with a deadline, cancelled work for clients that left, /readyz when full.

Real ``reviewer serve`` processes on 127.0.0.1 with the fake model answering slowly;
one review runs at a time, so the queue is easy to fill.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from fake_llm import FakeLLM, review_responder
from service_server import ServiceProcess

DRAFT = "I'm sorry the parcel is late. I've sent a replacement today; it arrives by Friday."


def serve(fake: FakeLLM, **env: str) -> ServiceProcess:
    args = ["--model", "openai/fake-model", "--api-base", fake.base_url, "--api-key", "sk-fake"]
    env = {"REVIEWER_MAX_RETRIES": "0", "REVIEWER_MAX_REWRITE_REASKS": "0", "REVIEWER_MAX_CONCURRENCY": "1", **env}
    return ServiceProcess(args, env=env)


def gauge(url: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+-]+)$", httpx.get(f"{url}/metrics").text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


def post(url: str, timeout_s: float = 30.0) -> tuple[int, dict[str, str], float]:
    started = time.monotonic()
    try:
        response = httpx.post(f"{url}/v1/reviews", json={"draft": DRAFT}, timeout=timeout_s)
    except httpx.TimeoutException:
        return 0, {}, time.monotonic() - started
    return response.status_code, dict(response.headers), time.monotonic() - started


@pytest.fixture
def slow_model() -> Iterator[FakeLLM]:
    with FakeLLM() as fake:
        fake.responder = review_responder(delay_s=0.5)
        yield fake


def test_no_review_waits_longer_than_its_deadline_and_the_rest_get_503_with_retry_after(slow_model: FakeLLM) -> None:
    deadline = 2.5
    with serve(slow_model, REVIEWER_DEADLINE_S=str(deadline), REVIEWER_QUEUE_LIMIT="30") as server:
        for _ in range(2):
            assert post(server.url)[0] == 200  # service times known (about 0.5 s)
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            results = list(pool.map(lambda _: post(server.url), range(12)))
        statuses = [status for status, _, _ in results]
        assert statuses.count(200) >= 1 and statuses.count(503) >= 5, results
        assert set(statuses) <= {200, 503}
        refused = [(headers, took) for status, headers, took in results if status == 503]
        assert all(int(headers["retry-after"]) >= 1 for headers, _ in refused)
        # most refusals come from the estimate, at once, not after waiting out the deadline
        assert sum(took < deadline for _, took in refused) >= 3, refused
        assert gauge(server.url, "reviewer_queue_wait_max_seconds") <= deadline


def test_a_client_that_leaves_frees_its_place_and_its_running_model_call(slow_model: FakeLLM) -> None:
    model_s = 6.0
    slow_model.responder = review_responder(delay_s=model_s)
    with serve(slow_model, REVIEWER_QUEUE_LIMIT="5") as server:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            running = pool.submit(post, server.url)  # holds the one slot for 6 s
            time.sleep(0.5)
            assert post(server.url, timeout_s=0.5)[0] == 0  # queued behind it, then gives up
            while gauge(server.url, "reviewer_model_reviews_queued") != 0:
                assert not running.done(), "the queued review kept its place until the running one finished"
                time.sleep(0.05)
            assert not running.done()  # its place was freed while the review in front still ran
            assert running.result()[0] == 200
        # a running review whose client leaves gives its slot up at once: the next one does not wait for it
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            leaving = pool.submit(post, server.url, 1.0)
            time.sleep(0.3)
            started = time.monotonic()
            status, _, _ = post(server.url)
            took = time.monotonic() - started
            assert leaving.result()[0] == 0
        assert status == 200
        assert took < model_s + 3.0, f"waited for the abandoned call: {took:.1f} s"
        logs = server.barrier()
        assert logs.count('"status": 499') >= 2 and '"cancelled": true' in logs


def test_readyz_is_not_ready_while_the_queue_is_full(slow_model: FakeLLM) -> None:
    slow_model.responder = review_responder(delay_s=4.0)
    with serve(slow_model, REVIEWER_QUEUE_LIMIT="1") as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(post, server.url) for _ in range(2)]
            deadline = time.monotonic() + 3.5
            while (full := httpx.get(f"{server.url}/readyz")).status_code == 200 and time.monotonic() < deadline:
                time.sleep(0.05)  # until both reviews are in: one running, one waiting
            assert full.status_code == 503 and full.json()["error"]["code"] == "overloaded"
            assert [f.result()[0] for f in futures] == [200, 200]
        assert httpx.get(f"{server.url}/readyz").status_code == 200
