"""uvicorn's httptools protocol with limits on what a client may send before its request is whole.

uvicorn bounds neither the size of a request head under httptools, nor the number of
headers, nor how long a client may take to send its request: 8 connections each
trickling a 32 MiB header grew the server by 260 MiB, and thousands of half-open
request heads stayed open (issue 15). Here a request head over 16 KiB
gets 431, more than 100 headers get 431, a request not complete within
10 s of the connection opening (or of the previous response) gets 408,
and a request httptools cannot parse (e.g. ``Content-Length: -1``) gets 400: each in
the service's JSON error shape, with ``Connection: close``.

``reviewer serve`` passes this class as uvicorn's ``http``. uvicorn builds the protocol, not
the app, so the limits are read from ``Settings`` (``REVIEWER_MAX_HEAD_BYTES``,
``REVIEWER_MAX_HEADERS``, ``REVIEWER_READ_TIMEOUT_S``) once per process.
"""

from __future__ import annotations

import asyncio
import json
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from reviewer.config import Settings
from reviewer.service.errors import error_payload


@lru_cache(maxsize=1)
def limits() -> tuple[int, int, float]:
    """(head bytes, header count, read timeout) from the settings, read once per process."""
    settings = Settings()
    return settings.max_head_bytes, settings.max_headers, settings.read_timeout_s


class _Rejected(Exception):
    """Raised from a parser callback to stop parsing; the protocol answers ``status``."""


def error_bytes(status: int, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response in the service's error shape that closes the connection."""
    body = json.dumps(error_payload(code, message)).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` plus head size, header count and read-time limits (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_done = False
        self._header_count = 0
        self._rejection: tuple[int, str, str] | None = None
        self._read_timer: asyncio.TimerHandle | None = None
        self._began = False  # bytes of a request arrived since the connection opened or the last response
        self._max_head_bytes, self._max_headers, self._read_timeout_s = limits()

    # -- the read deadline -------------------------------------------------------------------------

    def _arm_read_timer(self) -> None:
        self._disarm_read_timer()
        self._read_timer = self.loop.call_later(self._read_timeout_s, self._read_timed_out)

    def _disarm_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if (self.cycle is not None and self.cycle.response_started) or not self._began:
            # Nothing of a new request arrived (an idle or preconnected socket): close without a 408, which a
            # browser would read as the answer to the request it sends on that socket next.
            self.transport.close()
            return
        self._reject(408, "request_timeout", f"The request was not complete within {self._read_timeout_s:g} s.")

    def _reject(self, status: int, code: str, message: str) -> None:
        self._disarm_read_timer()
        if not self.transport.is_closing():
            self.transport.write(error_bytes(status, code, message))
            self.transport.close()

    # -- uvicorn's protocol hooks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._began = True
        super().data_received(data)
        if not self._head_done and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > self._max_head_bytes:
                message = f"The request head is larger than {self._max_head_bytes} bytes."
                self._reject(431, "headers_too_large", message)

    def send_400_response(self, msg: str) -> None:
        """httptools could not parse the request (or a callback rejected it): JSON, not uvicorn's text/plain."""
        status, code, message = self._rejection or (400, "bad_request", "The HTTP request is malformed.")
        self._reject(status, code, message)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_done = False
        self._header_count = 0
        if self._read_timer is None:
            self._arm_read_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self._max_headers:
            self._rejection = (431, "headers_too_large", f"More than {self._max_headers} headers.")
            raise _Rejected
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm_read_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._began = False
        if not self.transport.is_closing():
            self._arm_read_timer()
