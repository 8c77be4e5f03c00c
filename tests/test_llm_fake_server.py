"""The fake model server itself: routes, scripting order, per-model queues, responders, clean stop."""

from __future__ import annotations

import json

import httpx
import pytest
from fake_llm import Fail, FakeLLM, Reply, draft_of, model_answer, review_responder

from reviewer import prompts
from reviewer.models import ReviewRequest


def _chat(fake: FakeLLM, model: str = "m", messages: list[dict[str, str]] | None = None) -> httpx.Response:
    body = {"model": model, "messages": messages or [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{fake.base_url}/chat/completions", json=body, timeout=10)


def test_routes_script_order_and_recording(fake_llm: FakeLLM) -> None:
    assert httpx.get(f"{fake_llm.base_url}/models").json()["data"][0]["id"] == "fake-model"
    assert httpx.get(f"{fake_llm.base_url}/nope").status_code == 404
    fake_llm.script("first", Fail(429, retry_after=7), {"a": 1})
    fake_llm.script("only for b", model="b")
    assert _chat(fake_llm, "b").json()["choices"][0]["message"]["content"] == "only for b"
    assert _chat(fake_llm).json()["choices"][0]["message"]["content"] == "first"
    limited = _chat(fake_llm)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    assert json.loads(_chat(fake_llm).json()["choices"][0]["message"]["content"]) == {"a": 1}
    assert _chat(fake_llm).status_code == 500  # nothing scripted: a failure, never a hang
    assert [r.model for r in fake_llm.chat_requests] == ["b", "m", "m", "m", "m"]
    assert fake_llm.pending == 0


def test_review_responder_answers_for_the_draft_in_the_request(fake_llm: FakeLLM) -> None:
    request = ReviewRequest(draft="Sorry, order #7 is late.")
    messages = prompts.render(prompts.load(), request, [])
    fake_llm.responder = review_responder(statuses={"thanks-customer": "fail"})
    answer = json.loads(_chat(fake_llm, messages=messages).json()["choices"][0]["message"]["content"])
    assert answer["rewrite"] == request.draft and answer["criteria"]["thanks-customer"]["status"] == "fail"
    assert draft_of(fake_llm.chat_requests[0]) == request.draft


def test_model_answer_refuses_unknown_criteria() -> None:
    with pytest.raises(ValueError, match="unknown criteria"):
        model_answer("x", statuses={"be-nice": "fail"})


def test_stop_does_not_wait_for_a_slow_answer() -> None:
    import threading
    import time

    fake = FakeLLM().start()
    fake.script(Reply("late", delay_s=30))
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(_chat(fake).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    while not fake.requests:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()  # wakes the handler sleeping in its delay
    worker.join(timeout=10)
    assert time.monotonic() - started < 5 and outcome and not worker.is_alive()
