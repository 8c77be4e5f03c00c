"""Hear SIGTERM/SIGINT before uvicorn acts on them, so the app can start draining at once.

uvicorn installs its own handlers (they stop accepting connections and wait up to
``timeout_graceful_shutdown`` for open ones); the app never learns a shutdown began.
``on_shutdown_signal`` wraps those handlers: the app's callback runs on the event loop,
then uvicorn's handler does what it always did.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_shutdown_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` on the running loop on SIGTERM/SIGINT, before the handler already installed;
    returns the function that puts the previous handlers back. A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in SIGNALS}

    def handler(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        chained = previous.get(sig)
        if callable(chained):
            chained(sig, frame)
        elif chained == signal.SIG_DFL and sig == signal.SIGINT:
            raise KeyboardInterrupt

    for sig in SIGNALS:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            if signal.getsignal(sig) is handler and old is not None:
                signal.signal(sig, old)

    return restore
