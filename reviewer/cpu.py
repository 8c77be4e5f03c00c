"""CPU-bound review work (the rules engine, rewrite checks) off the event loop, within a time budget.

A worst-case draft costs the rules ~0.03-0.1 s of CPU; run on the event loop, twenty of them
stalled every route of the service for seconds (issue 15). Threads do not help: the rules are
pure Python and hold the interpreter lock, and measured with a thread pool the event loop
stalled as long as before while the flood took twice as long. So the service runs them in
worker processes, one per core (``use_processes``, at startup); elsewhere (the CLI, a script
calling ``areview``) a thread per core is enough and starts at once.

Short texts (``INLINE_MAX_CHARS`` together, which most replies are) are reviewed in place: a
few milliseconds at worst, less than the trip to a worker costs (measured: ~0.5 ms of CPU more
per ``/v1/check`` through the process pool).

A caller that cannot get its pass done within ``budget_s`` (an overloaded pool) gets
``BudgetExceeded`` at once instead of waiting on: a pass not yet started is dropped, one
already running finishes in its worker and is discarded.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_executor: Executor | None = None
INLINE_MAX_CHARS = 2_000  # ~3-10 ms of rules at worst; longer texts go to the pool


class BudgetExceeded(Exception):
    """The rules pass did not finish within its time budget."""


def workers() -> int:
    """One per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def executor() -> Executor:
    """The pool CPU work runs on: the one ``use_processes`` set up, else a thread pool made on first use."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="reviewer-cpu")
    return _executor


def _warm() -> None:
    """Compile the rules and load the default judge once per worker, before the first request."""
    from reviewer import rules, verdict

    rules.all_rules()
    verdict.current_judge()


def _start_worker(parent: int) -> None:
    """A worker's initializer: warm up, and end when the server process is gone (even SIGKILLed), never
    lingering as an orphan that waits for work forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="reviewer-cpu-parent-watch").start()
    _warm()


async def use_processes() -> bool:
    """Run CPU work in ``workers()`` processes from now on, once every worker is warm; False (and threads
    stay) when they cannot start.

    ``spawn``, not ``fork``: the server process has threads (logging, the loop's executor) that a
    forked child would inherit mid-state. Spawned workers import the main module again, so a script
    that builds the app at import time, without ``if __name__ == "__main__":``, breaks them: then
    the threads stay (``REVIEWER_CPU_PROCESSES=false`` skips the attempt).
    """
    global _executor
    pool = ProcessPoolExecutor(max_workers=workers(), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(os.getpid(),))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.gather(*(loop.run_in_executor(pool, _warm) for _ in range(workers())))
    except (BrokenProcessPool, OSError, RuntimeError):
        pool.shutdown(wait=False, cancel_futures=True)
        return False
    previous, _executor = _executor, pool
    if previous is not None:
        previous.shutdown(wait=False)
    return True


def shutdown() -> None:
    """Stop the pool (queued work is dropped) and wait for its workers to exit (they are idle by now: the
    server has answered everything); the next ``run`` starts a thread pool again."""
    global _executor
    previous, _executor = _executor, None
    if previous is not None:
        previous.shutdown(wait=True, cancel_futures=True)


def small(*texts: str | None) -> bool:
    """Whether texts this short are cheaper to review in place than on the pool."""
    return sum(len(t) for t in texts if t) <= INLINE_MAX_CHARS


async def run(budget_s: float | None, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the pool; ``BudgetExceeded`` when it takes longer than ``budget_s``.

    ``fn`` and its arguments must pickle (module-level functions, pydantic models): they may go to
    another process.
    """
    future = executor().submit(fn, *args, **kwargs)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), budget_s)
    except TimeoutError:
        future.cancel()
        raise BudgetExceeded(f"the rules did not finish within {budget_s:g} s") from None


async def run_sized(
    budget_s: float | None, texts: tuple[str | None, ...], fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``fn`` in place when ``texts`` are :func:`small` (cheaper than the trip to the pool), else :func:`run`."""
    if small(*texts):
        return fn(*args, **kwargs)
    return await run(budget_s, fn, *args, **kwargs)
