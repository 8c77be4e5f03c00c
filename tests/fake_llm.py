"""A fake OpenAI-compatible model server for tests and benchmarks: real HTTP on 127.0.0.1.

Tests talk to it through the real litellm path (``--model openai/<anything>
--api-base <fake.base_url>``), so retries, timeouts and parsing are exercised for real.

API
---
``FakeLLM()`` starts nothing; use it as a context manager (or ``start()`` / ``stop()``)::

    with FakeLLM() as fake:                      # server on 127.0.0.1:<random port>
        fake.base_url                            # "http://127.0.0.1:PORT/v1"
        fake.script(                             # queue of answers, consumed in order
            Fail(429, retry_after=1),            #   HTTP 429 with "Retry-After: 1"
            500,                                 #   an int = that HTTP status
            "Sure! Here it is: {...}",           #   a str = the message content, verbatim
            {"rewrite": "..."},                  #   a dict = its JSON as the message content
            Reply(answer, delay_s=5),            #   answer after 5 s (slower than a timeout)
        )
        fake.script(Fail(503), model="backup")   # a queue for one model name only
        fake.responder = lambda req: ...         # default answer when the queues are empty
        fake.requests                            # every request received (RecordedRequest)

Which answer a chat-completions request gets: the next step of the queue for
its ``model`` if any, else the next step of the shared queue, else
``responder(request)`` if set, else a 500 saying nothing was scripted (so a
missing step shows up as a failing call, never as a hang).

Answers for the reviewer's prompt:
``model_answer(draft, statuses=..., quotes=..., rewrite=...)`` builds a valid
``ModelReview`` JSON string (every criterion ``pass`` unless told otherwise;
rewrite defaults to the draft); ``rewrite_answer(text)`` the answer to a
rewrite re-ask; ``review_responder(...)`` a responder that answers every review
request with ``model_answer`` for the draft it finds in the request (and every
rewrite re-ask with the same rewrite), optionally after ``delay_s`` (for load
tests). ``draft_of(request)`` extracts the draft a request is about.

Each ``RecordedRequest`` has ``method``, ``path``, ``headers``, ``body`` (the
parsed JSON), ``model``, ``messages`` and ``at`` (monotonic time received).
``GET /v1/models`` lists ``fake.models`` (default ``["fake-model"]``).

The pytest fixture ``fake_llm`` (tests/conftest.py) yields a started server and
stops it after the test.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reviewer.llm_output import ModelReview, RewriteOnly
from reviewer.rubric import CRITERION_IDS


@dataclass
class Reply:
    """A 200 answer whose message content is ``content`` (any text: JSON, prose, truncated JSON)."""

    content: str
    delay_s: float = 0.0
    finish_reason: str = "stop"
    prompt_tokens: int = 100
    completion_tokens: int = 50
    timings: dict[str, Any] | None = None  # what a llama.cpp server adds (speculative decoding counts)
    cached_tokens: int | None = None  # usage.prompt_tokens_details.cached_tokens: the prompt cache's reuse


@dataclass
class Fail:
    """An HTTP error status (429, 500, 503...), optionally with a ``Retry-After`` header, after ``delay_s``."""

    status: int
    retry_after: float | str | None = None
    message: str = "fake failure"
    delay_s: float = 0.0


Step = Reply | Fail | str | int | dict[str, Any]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str | None:
        value = self.body.get("model")
        return value if isinstance(value, str) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        value = self.body.get("messages")
        return value if isinstance(value, list) else []


def _as_step(step: Step) -> Reply | Fail:
    if isinstance(step, Reply | Fail):
        return step
    if isinstance(step, bool):
        raise TypeError("a bool is not a step")
    if isinstance(step, int):
        return Fail(step)
    if isinstance(step, str):
        return Reply(step)
    if isinstance(step, dict):
        return Reply(json.dumps(step))
    raise TypeError(f"not a step: {step!r}")


class FakeLLM:
    """The server and its script; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Reply | Fail] = deque()
        self._model_queues: dict[str, deque[Reply | Fail]] = {}
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[RecordedRequest] = []
        self.responder: Callable[[RecordedRequest], Step] | None = None
        self.models: list[str] = ["fake-model"]

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> FakeLLM:
        server = _QuickServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a delay
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -----------------------------------------------------------------
    def script(self, *steps: Step, model: str | None = None) -> None:
        """Append answers to the shared queue, or to the queue of one model name."""
        with self._lock:
            queue = self._queue if model is None else self._model_queues.setdefault(model, deque())
            queue.extend(_as_step(step) for step in steps)

    @property
    def pending(self) -> int:
        """Steps scripted but not yet served."""
        with self._lock:
            return len(self._queue) + sum(len(q) for q in self._model_queues.values())

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completions requests only, in the order received."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def model_answer(self, draft: str, **kwargs: Any) -> str:
        return model_answer(draft, **kwargs)

    def _next_step(self, request: RecordedRequest) -> Reply | Fail:
        with self._lock:
            self.requests.append(request)
            model_queue = self._model_queues.get(request.model or "")
            if model_queue:
                return model_queue.popleft()
            if self._queue:
                return self._queue.popleft()
            responder = self.responder
        if responder is not None:
            return _as_step(responder(request))
        return Fail(500, message="fake_llm: nothing scripted for this request")

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


class _QuickServer(ThreadingHTTPServer):
    """A deep listen backlog, so hundreds of concurrent callers don't sit in SYN retries."""

    request_queue_size = 1024


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Without this, Nagle plus delayed ACK adds ~40 ms to every answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): fine

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
                self._send(200, {"object": "list", "data": data})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._send(400, {"error": {"message": "invalid JSON body", "type": "invalid_request_error"}})
                return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            request = RecordedRequest("POST", self.path, dict(self.headers.items()), body)
            step = fake._next_step(request)
            fake._wait(step.delay_s)
            if isinstance(step, Fail):
                headers = {} if step.retry_after is None else {"Retry-After": str(step.retry_after)}
                error = {"message": step.message, "type": "fake_error", "code": str(step.status)}
                self._send(step.status, {"error": error}, headers)
                return
            self._send(200, _completion(request, step))

    return Handler


_counter = iter(range(1, 1 << 62))


def _completion(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    cache = {} if reply.cached_tokens is None else {"prompt_tokens_details": {"cached_tokens": reply.cached_tokens}}
    return {
        "id": f"chatcmpl-fake-{next(_counter)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model or "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
            **cache,
        },
        **({"timings": reply.timings} if reply.timings is not None else {}),
    }


# -- answers for the reviewer's prompt ---------------------------------------------------

def model_answer(
    draft: str,
    *,
    statuses: Mapping[str, str] | None = None,
    quotes: Mapping[str, list[str]] | None = None,
    explanations: Mapping[str, str] | None = None,
    rewrite: str | None = None,
    summary: str = "Reviewed by the fake model.",
) -> str:
    """A valid ``ModelReview`` JSON string for ``draft``: all ``pass`` unless ``statuses`` says otherwise."""
    statuses = statuses or {}
    quotes = quotes or {}
    explanations = explanations or {}
    unknown = (set(statuses) | set(quotes) | set(explanations)) - set(CRITERION_IDS)
    if unknown:
        raise ValueError(f"unknown criteria: {sorted(unknown)}")
    criteria = {
        cid: {
            "status": statuses.get(cid, "pass"),
            "quotes": list(quotes.get(cid, [])),
            "explanation": explanations.get(cid, f"fake judgement of {cid}"),
        }
        for cid in CRITERION_IDS
    }
    answer = {"criteria": criteria, "summary": summary, "rewrite": draft if rewrite is None else rewrite}
    ModelReview.model_validate(answer)  # the helper itself must never build an invalid answer
    return json.dumps(answer)


def rewrite_answer(text: str) -> str:
    """A valid answer to a rewrite re-ask."""
    answer = {"rewrite": text}
    RewriteOnly.model_validate(answer)
    return json.dumps(answer)


_DRAFT_BLOCK = re.compile(r"<draft>\n?(.*?)\n?</draft>", re.DOTALL)


def draft_of(request: RecordedRequest) -> str | None:
    """The draft the request is about (from the first user message with a draft block)."""
    for message in request.messages:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str):
            match = _DRAFT_BLOCK.search(content)
            if match:
                return match.group(1)
    return None


def is_rewrite_reask(request: RecordedRequest) -> bool:
    """True when the request asks for a corrected rewrite only (the reviewer's rewrite re-ask)."""
    return any(
        message.get("role") == "user"
        and isinstance(message.get("content"), str)
        and message["content"].startswith("Your rewrite did not pass these checks")
        for message in request.messages[2:]
    )


def review_responder(delay_s: float = 0.0, **answer_kwargs: Any) -> Callable[[RecordedRequest], Step]:
    """A responder answering every review request with ``model_answer(draft, **answer_kwargs)``."""

    def respond(request: RecordedRequest) -> Step:
        draft = draft_of(request) or "(no draft found)"
        content = model_answer(draft, **answer_kwargs)
        if is_rewrite_reask(request):
            content = rewrite_answer(json.loads(content)["rewrite"])
        return Reply(content, delay_s=delay_s)

    return respond
