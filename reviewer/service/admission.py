"""Admission control for model-backed reviews: a bounded number run, a bounded number wait, the rest get 503.

Piling requests up behind a slow model only turns every answer late; refusing
early with ``Retry-After`` lets a help-desk tool fall back (or retry) at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from reviewer.service.errors import ApiError
from reviewer.service.metrics import Metrics


class Admission:
    """At most ``max_concurrency`` reviews run; at most ``queue_limit`` more wait.

    A request is admitted when all its items fit into the free capacity, or when
    nothing at all is pending (so a batch larger than the capacity still runs on
    an idle server instead of being refused forever).
    """

    def __init__(self, max_concurrency: int, queue_limit: int, metrics: Metrics, retry_after_s: int = 1) -> None:
        self.max_concurrency = max_concurrency
        self.capacity = max_concurrency + queue_limit
        self.retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(max_concurrency)
        self._pending = 0
        self._running = 0
        self._metrics = metrics
        metrics.in_flight.set_function(lambda: self._running)
        metrics.queued.set_function(lambda: self._pending - self._running)

    @property
    def pending(self) -> int:
        return self._pending

    @asynccontextmanager
    async def admit(self, items: int = 1) -> AsyncIterator[None]:
        """Reserve room for ``items`` reviews, or raise a 503 ApiError right away."""
        if self._pending and self._pending + items > self.capacity:
            self._metrics.rejected.inc()
            raise ApiError(
                503,
                "The reviewer is at capacity; retry shortly.",
                code="overloaded",
                headers={"Retry-After": str(self.retry_after_s)},
            )
        self._pending += items
        try:
            yield
        finally:
            self._pending -= items

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``max_concurrency`` running slots (called inside ``admit``)."""
        async with self._slots:
            self._running += 1
            try:
                yield
            finally:
                self._running -= 1
