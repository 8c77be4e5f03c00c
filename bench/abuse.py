"""Abuse benchmark of the HTTP service (issue 15): what an attacker and an overloaded help desk do to it.

Everything runs on 127.0.0.1 and every loop is bounded in count and time. Four phases, each
against its own ``reviewer serve`` process and a fake model (tests/fake_llm.py):

  1. overload with faults: ``--requests`` reviews from ``--clients`` concurrent clients against
     4 running + 64 queued slots, ``DEADLINE_S=10``, a 5 s model that also answers 429/500/503,
     garbage and timeouts: requests sent, answers by status, 5xx other than the deliberate 503,
     lost (no answer at all), and the longest queue wait against the deadline;
  2. header attack: 8 connections each trickling a 32 MiB unfinished header, then ``--half-open``
     connections that send half a request head and stop: server RSS before and after, what the
     attackers got back, and how many half-open connections the server still held after the
     read timeout;
  3. drain: 50 reviews in flight (4 running, 46 queued, 5 s model), then SIGTERM, and SIGKILL if
     the process still runs 10 s later (a common orchestrator grace period): drain time, answers,
     dropped;
  4. injection: the 64 floor variants of tests/test_hardening_floor.py against /v1/check and,
     with a model that obeys the injected text, /v1/reviews: verdicts below the rules' floor and
     blocked rewrites marked verified.

Usage: python bench/abuse.py [--requests 300] [--clients 120] [--half-open 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_llm import Fail, FakeLLM, RecordedRequest, Reply, Step, draft_of, model_answer  # noqa: E402
from service_server import ServiceProcess  # noqa: E402

DRAFT = "I'm sorry the parcel is late; that's on us. I've sent a replacement today, it arrives by Friday. Thanks!"
DEADLINE_S = 10.0
MODEL_S = 5.0
GRACE_S = 10.0
BASE_ENV = {"REVIEWER_MAX_CONCURRENCY": "4", "REVIEWER_QUEUE_LIMIT": "64", "REVIEWER_MAX_REWRITE_REASKS": "0"}


def model_args(fake: FakeLLM, *extra: str) -> list[str]:
    return ["--model", "openai/fake-model", "--api-base", fake.base_url, "--api-key", "sk-fake", *extra]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metric(url: str, name: str) -> float:
    match = re.search(rf"^{name} ([0-9.e+-]+)$", httpx.get(f"{url}/metrics", timeout=10).text, re.MULTILINE)
    return float(match.group(1)) if match else float("nan")


class FaultyModel:
    """A slow model that also fails: per 10 calls, 5 valid after 5 s, 1 each of 429, 500, 503, garbage, timeout."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Step:
        with self._lock:
            n = next(self._counter) % 10
        valid = Reply(model_answer(draft_of(request) or DRAFT), delay_s=MODEL_S)
        return {
            5: Fail(429, retry_after=1),
            6: Fail(500),
            7: Fail(503),
            8: Reply("<html>502 Bad Gateway</html>", delay_s=0.2),
            9: Reply(model_answer(DRAFT), delay_s=self.timeout_s + 2),
        }.get(n, valid)


async def fire(
    url: str, count: int, clients: int, timeout_s: float
) -> tuple[Counter[int], Counter[str], float, list[float]]:
    """``count`` reviews from ``clients`` concurrent clients: statuses, lost, seconds, latencies of the 503s."""
    statuses: Counter[int] = Counter()
    refused: list[float] = []
    lost: Counter[str] = Counter()
    queue = iter(range(count))
    started = time.monotonic()

    async def client(http: httpx.AsyncClient) -> None:
        for _ in queue:
            sent = time.monotonic()
            try:
                response = await http.post("/v1/reviews", json={"draft": DRAFT}, timeout=timeout_s)
                statuses[response.status_code] += 1
                if response.status_code == 503:
                    refused.append(time.monotonic() - sent)
            except httpx.HTTPError as exc:
                lost[type(exc).__name__] += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return statuses, lost, time.monotonic() - started, sorted(refused)


def phase_overload(args: argparse.Namespace) -> None:
    timeout_s = MODEL_S + 1
    with FakeLLM() as fake:
        fake.responder = FaultyModel(timeout_s)
        env = {**BASE_ENV, "REVIEWER_DEADLINE_S": str(DEADLINE_S), "REVIEWER_TIMEOUT_S": str(timeout_s),
               "REVIEWER_BACKOFF_INITIAL_S": "0.2"}  # fmt: skip
        with ServiceProcess(model_args(fake), env=env) as server:
            client_timeout = DEADLINE_S * 3 + 15
            statuses, lost, took, refused = asyncio.run(fire(server.url, args.requests, args.clients, client_timeout))
            max_wait = metric(server.url, "reviewer_queue_wait_max_seconds")
            degraded = metric(server.url, "reviewer_degraded_reviews_total")
            server_refused = sorted(
                float(record["latency_ms"]) / 1000
                for line in server.barrier().splitlines() if line.startswith("{")
                for record in [json.loads(line)] if record.get("status") == 503
            )  # fmt: skip
    five_xx = sum(n for status, n in statuses.items() if status >= 500 and status != 503)
    print(f"1. overload with faults ({args.clients} clients, 4 running + 64 queued, {MODEL_S:g} s model with "
          f"429/500/503/garbage/timeouts, DEADLINE_S={DEADLINE_S:g}), {took:.1f} s")
    print(f"   requests sent {args.requests}; answers {dict(sorted(statuses.items()))}; "
          f"degraded reviews {degraded:g}")
    print(f"   5xx other than 503 (refused, with Retry-After): {five_xx}; lost: {sum(lost.values())} {dict(lost)}")
    print(f"   max queue wait {max_wait:.2f} s vs deadline {DEADLINE_S:g} s")
    if refused and server_refused:
        print(f"   503 answered after (server's own latency, access log): p50 "
              f"{server_refused[len(server_refused) // 2] * 1000:.1f} ms, max {server_refused[-1]:.2f} s; "
              f"as the clients saw it on this busy machine: p50 {refused[len(refused) // 2]:.2f} s, "
              f"max {refused[-1]:.2f} s")


def trickle(port: int, total: int, stop_at: float) -> str:
    """Send an unfinished header of ``total`` bytes in 64 KiB pieces; what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sent = 0
        try:
            sock.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nX-Attack: ")
            piece = b"a" * 65536
            while sent < total and time.monotonic() < stop_at:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the server closed the connection
        try:
            answer = sock.recv(200).split(b"\r\n", 1)[0].decode("latin-1")
        except OSError:
            answer = ""
    return f"{answer or 'closed'} after {sent // 1024} KiB"


def phase_headers(args: argparse.Namespace) -> None:
    read_timeout = 10.0
    with ServiceProcess(["--rules-only"]) as server:
        assert server.process is not None
        pid = server.process.pid
        for _ in range(50):
            httpx.post(f"{server.url}/v1/check", json={"draft": DRAFT})
        before = rss_mib(pid)
        stop_at = time.monotonic() + 30
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(trickle(server.port, 32 << 20, stop_at)))
                   for _ in range(8)]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after_big = rss_mib(pid)
        sockets = []
        for _ in range(args.half_open):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Ty")
            sockets.append(sock)
        held_rss = rss_mib(pid)
        time.sleep(read_timeout + 2)
        still_open = 0
        for sock in sockets:
            sock.setblocking(False)
            try:
                sock.recv(1 << 16)  # an answer (408) or b"": the server closed it
            except BlockingIOError:
                still_open += 1  # nothing yet: the server still holds it
            except OSError:
                pass
            sock.close()
        after = rss_mib(pid)
        healthy = httpx.get(f"{server.url}/healthz").status_code
    answers = Counter(r.split(" after")[0] for r in results)
    print("2. header attack")
    print(f"   8 x 32 MiB unfinished headers: answers {dict(answers)} (e.g. '{results[0]}')")
    print(f"   {args.half_open} half-open request heads: {still_open} still open {read_timeout + 2:g} s later "
          f"(read timeout {read_timeout:g} s); /healthz {healthy}")
    print(f"   server RSS before {before:.1f} MiB, after the big headers {after_big:.1f} MiB, with the half-open "
          f"heads {held_rss:.1f} MiB, after {after:.1f} MiB: growth {after - before:+.1f} MiB")


def phase_drain(args: argparse.Namespace) -> None:
    in_flight = 50
    with FakeLLM() as fake:
        fake.responder = lambda request: Reply(model_answer(draft_of(request) or DRAFT), delay_s=MODEL_S)
        env = {**BASE_ENV, "REVIEWER_DEADLINE_S": "120", "REVIEWER_TIMEOUT_S": "6"}
        with ServiceProcess(model_args(fake), env=env) as server:
            assert server.process is not None
            process = server.process
            results: list[int] = []

            def one() -> None:
                try:
                    response = httpx.post(f"{server.url}/v1/reviews", json={"draft": DRAFT}, timeout=60)
                    results.append(response.status_code)
                except httpx.HTTPError:
                    results.append(0)

            threads = [threading.Thread(target=one) for _ in range(in_flight)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and metric(server.url, "reviewer_model_reviews_queued") < in_flight - 4:
                time.sleep(0.05)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            killed = False
            try:
                process.wait(timeout=GRACE_S)
            except Exception:
                process.kill()
                killed = True
                process.wait(timeout=10)
            drain_s = time.monotonic() - started
            for thread in threads:
                thread.join(timeout=30)
    answers = Counter(results)
    print(f"3. drain: {in_flight} reviews in flight (4 running, {in_flight - 4} queued, {MODEL_S:g} s model), "
          f"SIGTERM, SIGKILL after {GRACE_S:g} s")
    print(f"   drain time {drain_s:.1f} s ({'killed' if killed else 'exited by itself'}); answers "
          f"{dict(sorted((k, v) for k, v in answers.items() if k))}; dropped {answers.get(0, 0)}")


def phase_injection() -> None:
    from fake_llm import review_responder
    from test_hardening_floor import RANK, VARIANTS, floor_of

    drops_check = drops_model = verified_blocked = 0
    with FakeLLM() as fake:
        fake.responder = review_responder()
        with ServiceProcess(model_args(fake), env={"REVIEWER_MAX_RETRIES": "0"}) as server, \
                httpx.Client(base_url=server.url, timeout=60) as http:  # fmt: skip
            for _, text, context in VARIANTS:
                floor = RANK[floor_of(text)]
                checked = http.post("/v1/check", json={"draft": text, "context": context}).json()
                drops_check += RANK[checked["verdict"]] < floor
                reviewed = http.post("/v1/reviews", json={"draft": text, "context": context}).json()
                drops_model += RANK[reviewed["verdict"]] < floor
                rewrite = reviewed.get("rewrite") or {}
                verified_blocked += rewrite.get("status") == "verified" and floor == RANK["block"]
    print(f"4. injection: {len(VARIANTS)} variants (padding in 6 languages, language tags, both)")
    print(f"   verdicts below the rules' floor: {drops_check} (/v1/check), {drops_model} (/v1/reviews, obeying "
          f"model); blocked rewrites marked verified: {verified_blocked}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=120)
    parser.add_argument("--half-open", type=int, default=1000)
    parser.add_argument("--phases", default="1234", help="which phases to run, e.g. 23")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 5000 or not 1 <= args.clients <= 500 or not 0 <= args.half_open <= 3000:
        parser.error("keep the abuse bounded: --requests <= 5000, --clients <= 500, --half-open <= 3000")
    print(f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    phases = {"1": phase_overload, "2": phase_headers, "3": phase_drain}
    for key in args.phases:
        if key in phases:
            phases[key](args)
        elif key == "4":
            phase_injection()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
