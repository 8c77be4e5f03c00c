"""Load benchmark of the HTTP service: what the service adds on top of the model, and /v1/check throughput.

Starts, all on 127.0.0.1 and all stopped at the end:
  1. the fake OpenAI-compatible model server (tests/fake_llm.py) in its own process,
     answering every call after a fixed delay (default 300 ms);
  2. ``reviewer serve`` (one worker by default) pointed at it;
then drives it with N concurrent closed-loop clients (a minimal keep-alive HTTP/1.1
client, so the load generator itself costs little) and prints:
  * POST /v1/reviews with N clients: throughput, latency p50/p99, and the service's
    *added* latency p50/p99 = response time - (model calls x model delay);
  * POST /v1/check on one worker: requests/s (targets: added p99 <= 10 ms; >= 1,500 req/s).

Usage: python bench/service_load.py [--clients 200] [--delay 0.3] [--reviews 2000] [--check-seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from service_server import ServiceProcess  # noqa: E402

KEY = "bench-key"
# A reply that passes the rules, so the model's rewrite (the draft itself) verifies at once: one model call
# per review (the output says how many calls were made; rule changes may alter it).
DRAFT = (
    "Thank you for telling us, and I'm sorry you were charged twice — that's our mistake. I can imagine how "
    "frustrating that is, especially since you paid on time. I have refunded the second charge today; you will "
    "see it within 3 business days."
)
CUSTOMER = "You charged me twice for the same order. Fix it."

FAKE_SERVER = """
import sys, time
from http.server import ThreadingHTTPServer
# socketserver's default listen backlog is 5: with 200 callers at once most connections would wait in SYN
# retries for seconds, which is the load generator's artefact, not the service's latency.
ThreadingHTTPServer.request_queue_size = 1024
# And it writes headers and body in separate sends: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms a call.
from socketserver import StreamRequestHandler
StreamRequestHandler.disable_nagle_algorithm = True
sys.path.insert(0, {tests!r})
from fake_llm import FakeLLM, review_responder
fake = FakeLLM().start()
fake.responder = review_responder(delay_s={delay!r})
print(fake.base_url, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
fake.stop()
"""


class Connection:
    """One keep-alive HTTP/1.1 connection sending the same request again and again."""

    def __init__(self, port: int, raw_request: bytes) -> None:
        self.port = port
        self.raw = raw_request
        self.reader: asyncio.StreamReader
        self.writer: asyncio.StreamWriter

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def send(self) -> tuple[int, bytes]:
        """Send once; a connection the server closed is reopened and the failure reported as status 0."""
        try:
            return await self._send()
        except (OSError, asyncio.IncompleteReadError):
            self.writer.close()
            await self.open()
            return 0, b""

    async def _send(self) -> tuple[int, bytes]:
        self.writer.write(self.raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        return status, body

    def close(self) -> None:
        self.writer.close()


def build_request(path: str, payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def cpu_seconds(root_pid: int) -> float:
    """User+system CPU time of the service: its process and its worker processes (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == root_pid or ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def model_baseline(base_url: str, clients: int, rounds: int = 3) -> dict[str, float]:
    """The fake model called directly by ``clients`` at once: its latency before any service is involved."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    body = json.dumps(
        {"model": "fake-model", "messages": [{"role": "user", "content": f"<draft>\n{DRAFT}\n</draft>"}]}
    ).encode()
    raw = (
        f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    assert parts.port is not None
    connections = [Connection(parts.port, raw) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in connections))
    latencies: list[float] = []

    async def one(conn: Connection) -> None:
        started = time.perf_counter()
        await conn.send()
        latencies.append(time.perf_counter() - started)

    for _ in range(rounds):
        await asyncio.gather(*(one(c) for c in connections))
    for c in connections:
        c.close()
    return {"p50_ms": 1000 * statistics.median(latencies), "p99_ms": 1000 * percentile(latencies, 0.99)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def reviews_load(port: int, clients: int, total: int, delay_s: float) -> dict[str, float]:
    raw = build_request("/v1/reviews", {"draft": DRAFT, "customer_message": CUSTOMER})
    connections = [Connection(port, raw) for _ in range(clients)]
    await asyncio.gather(*(c.open() for c in connections))
    latencies: list[float] = []
    added: list[float] = []
    layer: list[float] = []  # response time - time inside the engine: HTTP, validation, admission, event-loop waits
    statuses: dict[int, int] = {}
    attempts: dict[int, int] = {}
    modes: dict[str, int] = {}
    remaining = total

    async def client(conn: Connection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            status, body = await conn.send()
            elapsed = time.perf_counter() - started
            statuses[status] = statuses.get(status, 0) + 1
            if status != 200:
                continue
            engine = json.loads(body)["engine"]
            calls = int(engine["attempts"])
            attempts[calls] = attempts.get(calls, 0) + 1
            mode = "degraded" if engine["degraded"] else engine["mode"]
            modes[mode] = modes.get(mode, 0) + 1
            latencies.append(elapsed)
            added.append(elapsed - calls * delay_s)
            layer.append(elapsed - float(engine["latency_ms"]) / 1000)

    # Warm-up: one request per connection (litellm's client setup, first-call imports) is not measured.
    await asyncio.gather(*(c.send() for c in connections))
    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in connections))
    wall = time.perf_counter() - started
    for c in connections:
        c.close()
    return {
        "requests": float(len(latencies)),
        "wall_s": wall,
        "throughput": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "added_p50_ms": 1000 * statistics.median(added),
        "added_p99_ms": 1000 * percentile(added, 0.99),
        "layer_p50_ms": 1000 * statistics.median(layer),
        "layer_p99_ms": 1000 * percentile(layer, 0.99),
        "statuses": statuses,  # type: ignore[dict-item]
        "model_calls_per_review": attempts,  # type: ignore[dict-item]
        "modes": modes,  # type: ignore[dict-item]
    }


async def throughput(port: int, raw: bytes, connections: int, seconds: float) -> dict[str, float]:
    """Requests/s of one request sent back to back on ``connections`` keep-alive connections."""
    conns = [Connection(port, raw) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in conns))
    await asyncio.gather(*(c.send() for c in conns))  # warm-up
    count = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(conn: Connection) -> None:
        nonlocal count, errors
        while time.perf_counter() < deadline:
            status, _ = await conn.send()
            count += 1
            errors += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in conns))
    wall = time.perf_counter() - started
    for c in conns:
        c.close()
    return {"requests": float(count), "errors": float(errors), "req_per_s": count / wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.3, help="model latency in seconds")
    parser.add_argument("--reviews", type=int, default=2000, help="reviews to send in the measured phase")
    parser.add_argument("--check-seconds", type=float, default=5.0)
    parser.add_argument("--check-connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE_SERVER.format(tests=str(ROOT / "tests"), delay=args.delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        base_url = fake.stdout.readline().strip()
        env = {
            "REVIEWER_API_KEYS": KEY,
            # Every client's review runs at once: the bench measures the service, not the queue.
            "REVIEWER_MAX_CONCURRENCY": str(args.clients),
            "REVIEWER_QUEUE_LIMIT": str(args.clients),
        }
        server_args = ["--model", "openai/fake-model", "--api-base", base_url, "--api-key", "sk-fake",
                       "--workers", str(args.workers), "--log-level", "warning"]  # fmt: skip
        baseline = asyncio.run(model_baseline(base_url, args.clients))
        print(
            f"the fake model alone, {args.clients} concurrent callers: p50 {baseline['p50_ms']:.1f} ms, "
            f"p99 {baseline['p99_ms']:.1f} ms (its own overhead over the {args.delay * 1000:.0f} ms delay "
            "counts as 'added' below)"
        )
        with ServiceProcess(server_args, env=env) as server:
            server_logs = server.logs
            print(f"service: {args.workers} worker(s) on {server.url}; model delay {args.delay * 1000:.0f} ms")
            print(f"cpus: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
            assert server.process is not None
            pid = server.process.pid
            cpu_before = cpu_seconds(pid)
            result = asyncio.run(reviews_load(server.port, args.clients, args.reviews, args.delay))
            cpu_review_ms = 1000 * (cpu_seconds(pid) - cpu_before) / (result["requests"] + args.clients)
            print(
                f"POST /v1/reviews, {args.clients} concurrent clients, {result['requests']:.0f} reviews "
                f"in {result['wall_s']:.1f} s: {result['throughput']:.0f} reviews/s"
            )
            print(f"  latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")
            print(
                f"  added over the model: p50 {result['added_p50_ms']:.1f} ms, p99 {result['added_p99_ms']:.1f} ms "
                "(target p99 <= 10 ms)"
            )
            print(
                f"    of which outside the engine (HTTP, validation, admission, loop waits): "
                f"p50 {result['layer_p50_ms']:.1f} ms, p99 {result['layer_p99_ms']:.1f} ms"
            )
            print(
                f"  statuses {result['statuses']}, model calls per review {result['model_calls_per_review']}, "
                f"modes {result['modes']}"
            )
            print(
                f"  service CPU per review: {cpu_review_ms:.1f} ms (so one fully free core serves at most "
                f"~{1000 / cpu_review_ms:.0f} reviews/s per worker)"
            )
            check_request = build_request("/v1/check", {"draft": DRAFT, "customer_message": CUSTOMER})
            health_request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            for label, raw, target in (
                ("POST /v1/check", check_request, " (target >= 1,500 req/s)"),
                ("GET /healthz (the HTTP + framework floor)", health_request, ""),
            ):
                cpu_before = cpu_seconds(pid)
                measured = asyncio.run(throughput(server.port, raw, args.check_connections, args.check_seconds))
                cpu_ms = 1000 * (cpu_seconds(pid) - cpu_before) / (measured["requests"] + args.check_connections)
                print(
                    f"{label}, {args.check_connections} keep-alive connections, {args.workers} worker(s): "
                    f"{measured['req_per_s']:.0f} req/s ({measured['requests']:.0f} requests, "
                    f"{measured['errors']:.0f} errors){target}"
                )
                print(f"  service CPU per request: {cpu_ms:.2f} ms (one free core: ~{1000 / cpu_ms:.0f} req/s/worker)")
            if os.environ.get("BENCH_SHOW_LOGS"):
                print("\n".join(server_logs().splitlines()[-15:]))
    finally:
        if fake.stdin is not None:
            fake.stdin.close()
        try:
            fake.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.kill()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
