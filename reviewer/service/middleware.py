"""The outermost layer of every request: request id, body limit, catch-all, metrics and the access log.

A plain ASGI middleware (not ``BaseHTTPMiddleware``): it costs microseconds and
it sees streamed bodies chunk by chunk, so the size limit holds even without a
``Content-Length`` header.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reviewer.service.auth import NO_KEYS_OFF_LOOPBACK, PROTECTED_PREFIX, arrived_on_loopback, auth_problem
from reviewer.service.errors import error_response
from reviewer.service.logs import ACCESS_LOGGER
from reviewer.service.metrics import Metrics

REQUEST_ID_HEADER = b"x-request-id"
LOG_SCOPE_KEY = "reviewer.log"  # routes put verdict/degraded (and content, when allowed) here for the access log
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_METHODS_WITHOUT_BODY = {"GET", "HEAD", "OPTIONS", "DELETE"}
# Routes whose work is worth stopping when the client goes away: a queued review gives up its place,
# a running one its model call. (Not /v1/check: it is over in a millisecond.)
CANCEL_ON_DISCONNECT = frozenset({"/v1/reviews", "/v1/reviews/batch"})

access_log = logging.getLogger(ACCESS_LOGGER)


class _TooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


# New request ids: a random per-process prefix and a counter. Unique across workers and restarts like a
# uuid4, without reading the OS's random source on every request (~36 us each on the bench machine).
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)


def new_request_id() -> str:
    """32 hex characters, unique in this process and (by the random prefix) across processes."""
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


def request_id_from(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a sane token (no log injection), else a new one."""
    value = _header(scope, REQUEST_ID_HEADER)
    if value is not None:
        text = value.decode("latin-1")
        if _SAFE_REQUEST_ID.fullmatch(text):
            return text
    return new_request_id()


class ServiceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        max_body_bytes: int,
        known_paths: Iterable[str],
        api_keys: Sequence[str] = (),
        insecure_no_auth: bool = False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.known_paths = frozenset(known_paths)
        self.api_keys = tuple(api_keys)
        # Without keys, /v1/ answers only requests that arrived on a loopback address, whoever started the
        # app (``reviewer serve`` refuses such a --host up front; a bare ``uvicorn --factory`` cannot be asked).
        self.open_off_loopback_refused = not self.api_keys and not insecure_no_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope)
        scope[LOG_SCOPE_KEY] = {}
        status = 0
        header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            if self.open_off_loopback_refused and scope["path"].startswith(PROTECTED_PREFIX) \
                    and not arrived_on_loopback(scope.get("server")):
                await error_response(403, "auth_required", NO_KEYS_OFF_LOOPBACK)(scope, receive, send_with_id)
                return
            if self.api_keys and scope["path"].startswith(PROTECTED_PREFIX):
                problem = auth_problem(_header(scope, b"authorization"), self.api_keys)
                if problem is not None:
                    headers = {"WWW-Authenticate": "Bearer"}
                    await error_response(401, "unauthorized", problem, headers=headers)(scope, receive, send_with_id)
                    return
            body = await self._read_body(scope, receive)
            if body is None:
                status = 499  # the client went away before sending its body
                return
            if scope["path"] in CANCEL_ON_DISCONNECT and scope.get("method") == "POST":
                if not await _until_disconnect(self.app(scope, _replay(body, receive), send_with_id), receive):
                    status = 499  # the client went away: its queued or running review was cancelled
                    scope.setdefault(LOG_SCOPE_KEY, {})["cancelled"] = True
                return
            await self.app(scope, _replay(body, receive), send_with_id)
        except _TooLarge:
            await error_response(413, "payload_too_large", f"The body is larger than {self.max_body_bytes} bytes.")(
                scope, receive, send_with_id
            )
        except Exception as exc:  # the last line of defence: one shape, no traceback, logged by type only
            self.metrics.review_errors.inc()
            logging.getLogger("reviewer.service").error(
                "unhandled exception", extra={"request_id": request_id, "exc_type": type(exc).__name__}
            )
            if status == 0:
                await error_response(
                    500, "internal_error", "Internal error; the request id identifies it in the logs."
                )(scope, receive, send_with_id)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - started)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """Read the whole body (bounded) up front; None when the client disconnected first."""
        method = scope.get("method", "GET")
        headers = dict(scope.get("headers", ()))
        declared = headers.get(b"content-length")
        if method in _METHODS_WITHOUT_BODY and declared is None and b"transfer-encoding" not in headers:
            return b""
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _record(self, scope: Scope, request_id: str, status: int, elapsed_s: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or scope.get("path", "")
        label = path if path in self.known_paths else "unmatched"
        method = scope.get("method", "")
        self.metrics.observe_request(label, method, status, elapsed_s)
        entry: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "route": label,
            "status": status,
            "latency_ms": round(elapsed_s * 1000, 2),
        }
        entry.update(scope.get(LOG_SCOPE_KEY) or {})
        access_log.info("request", extra=entry)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app the body already read, then whatever the client sends next."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _until_disconnect(work: Any, receive: Receive) -> bool:
    """Run the app while listening for the client's disconnect; on one, cancel the app. True if it finished.

    After the body the next message from the server is ``http.disconnect``, so the app (which has its
    body) never needs ``receive`` again: this function alone listens.
    """
    app = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({app, gone}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the server itself gave up on this request
        app.cancel()
        gone.cancel()
        raise
    gone.cancel()
    if not app.done():
        app.cancel()
        await asyncio.gather(app, return_exceptions=True)
        return False
    app.result()  # re-raise what the app raised
    return True


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
