"""Is the model reachable? A cheap, cached TCP probe of the model's API base that never hangs.

``/readyz`` is polled often by orchestrators; it must neither cost a model call
nor block. A TCP connect with a short timeout, cached for a few seconds and
shared by concurrent callers, is enough to tell "the model server is down".
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ProbeResult:
    reachable: bool
    checked: bool
    detail: str


class ModelProbe:
    """Probes ``api_base`` (when there is one) at most once per ``ttl_s``; each probe is bounded by ``timeout_s``."""

    def __init__(self, api_base: str | None, timeout_s: float = 1.0, ttl_s: float = 5.0) -> None:
        self.api_base = api_base
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self._cached: ProbeResult | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    def _address(self) -> tuple[str, int] | None:
        if not self.api_base:
            return None
        parts = urlsplit(self.api_base)
        if not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return parts.hostname, port

    async def result(self) -> ProbeResult:
        address = self._address()
        if address is None:
            # A hosted provider or an in-process model: nothing cheap to probe without spending a call.
            return ProbeResult(reachable=True, checked=False, detail="no API base to probe")
        async with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached_at < self.ttl_s:
                return self._cached
            self._cached = await self._connect(*address)
            self._cached_at = time.monotonic()
            return self._cached

    async def _connect(self, host: str, port: int) -> ProbeResult:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=self.timeout_s)
        except (OSError, TimeoutError) as exc:
            return ProbeResult(
                reachable=False, checked=True, detail=f"cannot connect to {host}:{port} ({type(exc).__name__})"
            )
        writer.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), timeout=self.timeout_s)
        return ProbeResult(reachable=True, checked=True, detail=f"{host}:{port} accepts connections")
