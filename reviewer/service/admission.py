"""Admission control for model-backed reviews: a bounded number run, a bounded number wait, none past its deadline.

Piling requests up behind a slow model only turns every answer late; refusing
early with ``Retry-After`` lets a help-desk tool fall back (or retry) at once. A
request is refused up front when the recent service times say it could not start
within the review deadline, and a request already waiting is refused when the
deadline passes before a slot frees up (so no one ever waits longer than it).
On shutdown (``drain``) every waiting request is answered 503 at once and the
running ones are given a bounded time to finish.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from reviewer.service.errors import ApiError
from reviewer.service.metrics import Metrics

T = TypeVar("T")
RECENT = 32  # service times the wait estimate is taken from


@dataclass(frozen=True)
class Ticket:
    """An admitted request: when it was admitted (its queue deadline counts from here)."""

    admitted_at: float


class Abandoned(Exception):
    """A running review was given up because the server is shutting down."""


class Admission:
    """At most ``max_concurrency`` reviews run; at most ``queue_limit`` more wait, each at most ``deadline_s``.

    A request is admitted when all its items fit into the free capacity, or when
    nothing at all is pending (so a batch larger than the capacity still runs on
    an idle server instead of being refused forever).
    """

    def __init__(
        self,
        max_concurrency: int,
        queue_limit: int,
        metrics: Metrics,
        deadline_s: float,
        retry_after_s: int = 1,
    ) -> None:
        self.max_concurrency = max_concurrency
        self.capacity = max_concurrency + queue_limit
        self.deadline_s = deadline_s
        self.retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(max_concurrency)
        self._pending = 0
        self._running = 0
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._draining = asyncio.Event()
        self._abandon = asyncio.Event()
        self._metrics = metrics
        metrics.in_flight.set_function(lambda: self._running)
        metrics.queued.set_function(lambda: self._pending - self._running)

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def full(self) -> bool:
        return self._pending >= self.capacity

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def estimated_wait_s(self, items: int) -> float:
        """How long the last of ``items`` new reviews would wait for a slot: its place in the queue over the
        slots, times the mean of the recent service times (0 while a slot is free, or before any review has
        finished: then only the deadline itself bounds the wait)."""
        waiting = self._pending - self._running
        if not self._recent or self._running + waiting + items <= self.max_concurrency:
            return 0.0
        mean = sum(self._recent) / len(self._recent)
        return (waiting + items) / self.max_concurrency * mean

    def _refuse(self, message: str, code: str, retry_after_s: float) -> ApiError:
        self._metrics.rejected.inc()
        seconds = max(self.retry_after_s, math.ceil(retry_after_s))
        return ApiError(503, message, code=code, headers={"Retry-After": str(seconds)})

    @asynccontextmanager
    async def admit(self, items: int = 1) -> AsyncIterator[Ticket]:
        """Reserve room for ``items`` reviews, or raise a 503 ApiError right away."""
        if items and self.draining:
            raise self._refuse("The reviewer is shutting down; retry on another instance.", "shutting_down", 1)
        if self._pending and self._pending + items > self.capacity:
            raise self._refuse("The reviewer is at capacity; retry shortly.", "overloaded", 1)
        wait = self.estimated_wait_s(items)
        if self._pending and wait > self.deadline_s:
            raise self._refuse(
                f"The reviewer could not start this review within its {self.deadline_s:g} s deadline "
                f"(estimated wait {wait:.1f} s); retry later.",
                "overloaded",
                wait - self.deadline_s,
            )
        self._pending += items
        try:
            yield Ticket(admitted_at=time.monotonic())
        finally:
            self._pending -= items

    @asynccontextmanager
    async def slot(self, ticket: Ticket) -> AsyncIterator[None]:
        """Hold one of the ``max_concurrency`` running slots (inside ``admit``); 503 when none frees up before
        the ticket's deadline, or when the server starts draining while this review still waits."""
        remaining = self.deadline_s - (time.monotonic() - ticket.admitted_at)
        if not await self._acquire(remaining):
            if self.draining:
                raise self._refuse("The reviewer is shutting down; retry on another instance.", "shutting_down", 1)
            raise self._refuse(
                f"No review slot freed up within the {self.deadline_s:g} s deadline; retry later.", "overloaded", 1
            )
        started = time.monotonic()
        if started - ticket.admitted_at > self.deadline_s:  # the slot came, but this task resumed too late
            self._slots.release()
            raise self._refuse(
                f"No review slot freed up within the {self.deadline_s:g} s deadline; retry later.", "overloaded", 1
            )
        self._metrics.observe_queue_wait(started - ticket.admitted_at)
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._recent.append(time.monotonic() - started)
            self._slots.release()

    async def _acquire(self, timeout_s: float) -> bool:
        """A slot within ``timeout_s``, unless draining starts first; a slot won and then not used is returned."""
        if self.draining or timeout_s <= 0:
            return False
        acquire = asyncio.ensure_future(self._slots.acquire())
        drained = asyncio.ensure_future(self._draining.wait())
        got = False
        try:
            await asyncio.wait({acquire, drained}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
            got = acquire.done() and not acquire.cancelled()
        finally:
            drained.cancel()
            if not got:
                if acquire.done() and not acquire.cancelled():
                    self._slots.release()
                else:
                    acquire.cancel()
        return got

    async def unless_abandoned(self, work: Awaitable[T]) -> T:
        """``work``'s result, or ``Abandoned`` when draining gives up on the running reviews (``abandon``)."""
        task = asyncio.ensure_future(work)
        abandoned = asyncio.ensure_future(self._abandon.wait())
        try:
            await asyncio.wait({task, abandoned}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            abandoned.cancel()
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if task.cancelled():
            raise Abandoned
        return task.result()

    def drain(self) -> None:
        """Stop admitting, and answer every waiting review 503 now; running ones go on (see ``abandon``)."""
        self._draining.set()

    def abandon(self) -> None:
        """Give up the running reviews' model calls (their callers get the rules review, marked degraded)."""
        self._abandon.set()
