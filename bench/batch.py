"""Rows per second of ``reviewer batch`` on 1 and 2 processes (and on local Ray when installed), and the scaling.

The rows are built from real exchanges only: every reply and customer message of
``../shared/realworld/twcs_amazon_replies.jsonl`` and ``train_pool.jsonl`` (2,369 real
AmazonHelp exchanges), each row a real reply paired with a real customer message (its own
or another's, drawn with a fixed seed), with made-up agents, teams and dates. The figure is
wall time of the whole run (reading, the first pass, the pool's start, reviewing, writing),
i.e. what a user waits for; beside it, rows per CPU-second (this process and its workers), the
figure a shared machine disturbs least. Target (issue 17): >= 1,000 rows/s per core with the default judge.

    python bench/batch.py [--n 100000] [--workers 1,2] [--ray]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from reviewer.batch import store
from reviewer.batch.run import Options, Source, run

REALWORLD = Path(__file__).resolve().parents[2] / "shared" / "realworld"
FILES = ("twcs_amazon_replies.jsonl", "train_pool.jsonl")
AGENTS = [f"agent-{i:02d}" for i in range(40)]
TEAMS = ["Shipping", "Billing", "Accounts", "Devices", "Prime"]
TARGET_PER_CORE = 1_000


def real_exchanges(folder: Path) -> list[tuple[str, str]]:
    pairs = []
    for name in FILES:
        path = folder / name
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                pairs.append((record["reply"], record["customer"]))
    return pairs


def write_rows(path: Path, n: int, pairs: list[tuple[str, str]], seed: int = 17) -> None:
    """``n`` rows: a real reply with its own customer message half the time, another real one otherwise."""
    rng = random.Random(seed)
    start = 1_735_689_600  # 2025-01-01
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            reply, customer = pairs[rng.randrange(len(pairs))]
            if rng.random() < 0.5:
                customer = pairs[rng.randrange(len(pairs))][1]
            row = {
                "id": f"b{i}",
                "reply": reply,
                "customer": customer,
                "agent": rng.choice(AGENTS),
                "team": rng.choice(TEAMS),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + rng.randrange(365 * 86400))),
            }
            out.write(json.dumps(row) + "\n")


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers, once joined)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def verdicts(path: Path) -> dict[str, str]:
    return {r["id"]: r["review"]["verdict"] for r in store.records(path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="rows (default: 100,000)")
    parser.add_argument("--workers", default="1,2", help="process counts to run, comma-separated")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--ray", action="store_true", help="also run --engine ray (needs reviewer[cluster])")
    parser.add_argument("--realworld", type=Path, default=REALWORLD)
    args = parser.parse_args(argv)
    pairs = real_exchanges(args.realworld)
    if not pairs:
        print(f"no real exchanges under {args.realworld}", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "rows.jsonl"
        write_rows(source, args.n, pairs)
        print(f"{args.n:,} rows from {len(pairs):,} real exchanges; load average {os.getloadavg()[0]:.1f}, "
              f"{os.cpu_count()} cores")  # fmt: skip
        rates: dict[str, float] = {}
        cpu_rates: dict[str, float] = {}
        outputs: dict[str, Path] = {}
        for workers in (int(w) for w in args.workers.split(",")):
            out = Path(tmp) / f"out-{workers}.jsonl"
            options = Options([Source(source, "jsonl")], out, "jsonl", workers=workers,
                              chunk_size=args.chunk_size, progress=False)  # fmt: skip
            started, cpu_started = time.perf_counter(), cpu_seconds()
            summary = run(options, console)
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
            label = f"{workers} process{'es' if workers > 1 else ''}"
            rates[label] = summary.reviewed / seconds
            cpu_rates[label] = summary.reviewed / cpu
            outputs[label] = out
            print(f"{label:>12}: {summary.reviewed:,} rows in {seconds:,.1f} s = {rates[label]:,.0f} rows/s "
                  f"({rates[label] / workers:,.0f} per process); "
                  f"{summary.reviewed / cpu:,.0f} rows per CPU-second")  # fmt: skip
        if args.ray:
            from reviewer.batch import ray_engine

            out = Path(tmp) / "out-ray"
            started = time.perf_counter()
            reviewed = ray_engine.run(ray_engine.RayOptions([source], out, "jsonl", num_cpus=2)).reviewed
            seconds = time.perf_counter() - started
            rates["ray (2 CPUs)"] = reviewed / seconds
            outputs["ray (2 CPUs)"] = out
            print(f"ray (2 CPUs): {reviewed:,} rows in {seconds:,.1f} s = {rates['ray (2 CPUs)']:,.0f} rows/s "
                  "(including Ray's start)")  # fmt: skip
        labels = list(rates)
        if len(labels) >= 2:
            print(f"scaling {labels[1]} / {labels[0]}: {rates[labels[1]] / rates[labels[0]]:.2f}x")
        if len(labels) >= 3:
            print(f"ray / {labels[1]}: {rates[labels[2]] / rates[labels[1]]:.2f}x")
        first = verdicts(outputs[labels[0]])
        same = all(verdicts(outputs[label]) == first for label in labels[1:])
        print(f"same verdict for every row in every run: {same}")
        print(f"target >= {TARGET_PER_CORE:,} rows/s per core: "
              f"{'met' if rates[labels[0]] >= TARGET_PER_CORE else 'missed'} in wall time on {labels[0]}; "
              f"{'met' if cpu_rates[labels[0]] >= TARGET_PER_CORE else 'missed'} per CPU-second")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
