"""The service with a model: a real ``reviewer serve`` process talking to the fake LLM server through litellm.

A model failure is not an error (200, ``engine.degraded``); a full queue is (503,
``Retry-After``); the metrics count what ``review.engine`` says happened.
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fake_llm import Fail, FakeLLM, RecordedRequest, Reply, Step, draft_of, is_rewrite_reask, model_answer
from service_server import ServiceProcess, free_port

from reviewer.models import Review

KEY = "model-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODEL = "openai/fake-model"
BACKUP = "openai/backup"
# Words in a draft that tell the fake model how to behave (it reads the draft from the prompt).
FAIL_ALL = "FAILALL"  # every model answers 500: the review is degraded
FAIL_PRIMARY = "FAILPRIMARY"  # the primary model answers 500, the backup answers
REASK_ONCE = "REASKONCE"  # the first answer is not JSON, the re-ask gets a valid one
SLOW = "SLOWMODEL"  # the answer takes SLOW_S seconds
SLOW_S = 1.5
DRAFT_MARKER = "Kilimanjaro-draft-93"
CUSTOMER_MARKER = "Okapi-customer-51"


class ScriptedModel:
    """A responder for the fake server, steered by words in the draft; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def __call__(self, request: RecordedRequest) -> Step:
        draft = draft_of(request) or ""
        if FAIL_ALL in draft or (FAIL_PRIMARY in draft and request.model == "fake-model"):
            return Fail(500, message="fake outage")
        if REASK_ONCE in draft:
            with self._lock:
                first = draft not in self._seen
                self._seen.add(draft)
            if first:
                return "Sorry, I cannot produce JSON today."
        content = model_answer(draft, explanations={"understands-issue": f"answer for: {draft[:40]}"})
        if is_rewrite_reask(request):  # answered at once: only the review call itself is slow
            return json.dumps({"rewrite": json.loads(content)["rewrite"]})
        return Reply(content, delay_s=SLOW_S if SLOW in draft else 0.0)


def model_args(base_url: str) -> list[str]:
    return [
        "--model", MODEL, "--api-base", base_url, "--api-key", "sk-fake",
        "--fallback-models", BACKUP, "--timeout", "10",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.responder = ScriptedModel()
        yield server


@pytest.fixture(scope="module")
def model_server(fake: FakeLLM) -> Iterator[ServiceProcess]:
    """One model review at a time and one waiting (so the queue is easy to fill); no transport retries."""
    env = {"REVIEWER_API_KEYS": KEY, "REVIEWER_MAX_RETRIES": "0", "REVIEWER_MAX_CONCURRENCY": "1",
           "REVIEWER_QUEUE_LIMIT": "1"}  # fmt: skip
    with ServiceProcess(model_args(fake.base_url), env=env) as server:
        yield server


@pytest.fixture(scope="module")
def client(model_server: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=model_server.url, headers=AUTH, timeout=30.0) as c:
        yield c


def counters(client: httpx.Client) -> dict[str, float]:
    """The un-labelled counters of /metrics, by name."""
    values = {}
    for line in client.get("/metrics").text.splitlines():
        match = re.fullmatch(r"(reviewer_\w+_total) ([0-9.e+]+)", line)
        if match:
            values[match.group(1)] = float(match.group(2))
    return values


def delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after[name] - before.get(name, 0.0)


def test_a_review_goes_through_the_model(client: httpx.Client) -> None:
    draft = "I'm sorry we sent the wrong size. A replacement ships today; reply if it does not arrive by Friday."
    response = client.post("/v1/reviews", json={"draft": draft, "customer_message": "Wrong size again!"})
    assert response.status_code == 200, response.text
    review = Review.model_validate(response.json())
    assert review.engine.mode == "llm"
    assert review.engine.model == MODEL
    assert review.engine.degraded is False
    assert review.engine.attempts >= 1
    assert _model_explanation(review) == f"answer for: {draft[:40]}"


def test_readyz_probes_the_model(client: httpx.Client) -> None:
    response = client.get("/readyz", headers={"Authorization": ""})
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "llm" and body["model"] == MODEL
    assert "accepts connections" in body["probe"]


def test_a_failing_model_gives_a_degraded_review_not_an_error(client: httpx.Client) -> None:
    before = counters(client)
    response = client.post("/v1/reviews", json={"draft": f"Thanks for waiting. {FAIL_ALL}"})
    assert response.status_code == 200, response.text
    review = Review.model_validate(response.json())
    assert review.engine.degraded is True
    assert review.engine.degraded_reason
    after = counters(client)
    assert delta(before, after, "reviewer_degraded_reviews_total") == 1
    assert delta(before, after, "reviewer_llm_attempts_total") == review.engine.attempts >= 2  # primary + backup
    assert delta(before, after, "reviewer_llm_fallbacks_total") == review.engine.fallbacks_used == 1


def test_metrics_count_fallbacks_and_reasks_from_the_engine_record(client: httpx.Client) -> None:
    before = counters(client)
    fell_back = Review.model_validate(
        client.post("/v1/reviews", json={"draft": f"Thanks for waiting. {FAIL_PRIMARY}"}).json()
    )
    assert fell_back.engine.model == BACKUP and fell_back.engine.fallbacks_used == 1
    reasked = Review.model_validate(client.post("/v1/reviews", json={"draft": f"Thanks. {REASK_ONCE}"}).json())
    assert reasked.engine.degraded is False and reasked.engine.reasks == 1
    after = counters(client)
    assert delta(before, after, "reviewer_llm_fallbacks_total") == 1
    assert delta(before, after, "reviewer_llm_reasks_total") == 1
    assert delta(before, after, "reviewer_llm_attempts_total") == fell_back.engine.attempts + reasked.engine.attempts
    assert delta(before, after, "reviewer_degraded_reviews_total") == 0


def test_batch_in_order_with_one_failing_item(client: httpx.Client) -> None:
    drafts = [f"Thanks for your patience, item {i}." for i in range(5)]
    drafts[2] = f"Thanks for your patience, item 2. {FAIL_ALL}"
    response = client.post("/v1/reviews/batch", json={"requests": [{"draft": d} for d in drafts]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [item["index"] for item in results] == [0, 1, 2, 3, 4]
    for i, (draft, item) in enumerate(zip(drafts, results, strict=True)):
        review = Review.model_validate(item["review"])
        if i == 2:
            assert review.engine.degraded is True
        else:
            assert review.engine.mode == "llm" and not review.engine.degraded
            assert _model_explanation(review) == f"answer for: {draft[:40]}"  # this item's own answer, in its place


def test_model_mode_logs_carry_no_customer_text(client: httpx.Client, model_server: ServiceProcess) -> None:
    body = {"draft": f"Sorry you feel that way {DRAFT_MARKER} {FAIL_ALL}", "customer_message": CUSTOMER_MARKER}
    assert client.post("/v1/reviews", json=body, headers={"X-Request-ID": "model-log-1"}).status_code == 200
    ok_body = {"draft": f"Sorry about the delay {DRAFT_MARKER}", "customer_message": CUSTOMER_MARKER}
    assert client.post("/v1/reviews", json=ok_body).status_code == 200
    logs = model_server.barrier()
    records = [json.loads(line) for line in logs.splitlines() if line.strip()]  # litellm's output included
    assert all(isinstance(r, dict) for r in records)
    record = next(r for r in records if r.get("request_id") == "model-log-1")
    assert record["degraded"] is True and record["route"] == "/v1/reviews"
    assert DRAFT_MARKER not in logs and CUSTOMER_MARKER not in logs


def test_model_down_gives_degraded_reviews_and_not_ready() -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    env = {"REVIEWER_API_KEYS": KEY, "REVIEWER_MAX_RETRIES": "0"}
    with ServiceProcess(model_args(dead), env=env) as server, httpx.Client(
        base_url=server.url, headers=AUTH, timeout=30.0
    ) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["error"]["code"] == "model_unreachable"
        review = Review.model_validate(client.post("/v1/reviews", json={"draft": "Thanks for waiting."}).json())
        assert review.engine.degraded is True
        batch = client.post("/v1/reviews/batch", json={"requests": [{"draft": "Thanks."}, {"draft": "Sorry."}]})
        assert [Review.model_validate(i["review"]).engine.degraded for i in batch.json()["results"]] == [True, True]
        assert client.get("/healthz").status_code == 200  # the process is fine, only the model is not


def test_a_saturated_queue_answers_503_with_retry_after(client: httpx.Client) -> None:
    before = counters(client)
    slow = {"draft": f"Thanks for waiting. {SLOW}"}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        running = [pool.submit(client.post, "/v1/reviews", json=slow) for _ in range(2)]
        # One runs, one waits: wait until the server says so before the next requests.
        for _ in range(200):
            if "reviewer_model_reviews_queued 1.0" in client.get("/metrics").text:
                break
            time.sleep(0.05)
        refused = client.post("/v1/reviews", json=slow)
        refused_batch = client.post("/v1/reviews/batch", json={"requests": [slow]})
        check = client.post("/v1/check", json=slow)  # the rules path is never queued
        finished = [future.result() for future in running]
    for response in (refused, refused_batch):
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "overloaded"
        assert int(response.headers["retry-after"]) >= 1
    assert check.status_code == 200
    assert [r.status_code for r in finished] == [200, 200]
    assert all(not Review.model_validate(r.json()).engine.degraded for r in finished)
    assert delta(before, counters(client), "reviewer_rejected_total") == 2
    assert client.post("/v1/reviews", json={"draft": "Thanks for waiting."}).status_code == 200  # capacity is back


def _model_explanation(review: Review) -> str:
    """The model's explanation of a criterion the rules abstain on: which answer the review was built from."""
    return next(c.explanation for c in review.criteria if c.id == "understands-issue")
