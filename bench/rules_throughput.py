"""Reviews per second of the rules engine on one core, over the 358 real support replies.

Runs ``reviewer.rules.run`` (the engine alone) and ``reviewer.check`` (the engine
plus building the ``Review``) over every reply in
``../shared/realworld/twcs_amazon_replies.jsonl``, with its customer message,
several times, and prints reviews per second. CPU time of this process is
used, so other work on a shared machine disturbs the figure less. Target:
>= 5,000 reviews/s.

    python bench/rules_throughput.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reviewer import judge, rules
from reviewer.engine import check
from reviewer.models import ReviewRequest
from reviewer.rubric import decide_verdict

REPLIES = Path(__file__).resolve().parents[2] / "shared" / "realworld" / "twcs_amazon_replies.jsonl"
TARGET = 5_000


def _rate(fn: Callable[[ReviewRequest], Any], requests: list[ReviewRequest], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        started = time.process_time()
        for request in requests:
            fn(request)
        elapsed = time.process_time() - started
        if elapsed > 0:
            best = max(best, len(requests) / elapsed)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=Path, default=REPLIES)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    records = [json.loads(line) for line in args.replies.read_text(encoding="utf-8").splitlines()]
    requests = [ReviewRequest(draft=r["reply"], customer_message=r["customer"]) for r in records]
    started = time.perf_counter()
    rules.run(requests[0])  # loads and compiles the rule data
    print(f"rules loaded and compiled in {(time.perf_counter() - started) * 1000:.0f} ms "
          f"({len(rules.rules())} rules, version {rules.RULES_VERSION})")
    engine_rate = _rate(rules.run, requests, args.rounds)
    shipped = judge.get(judge.DEFAULT_PATH)
    found = {id(r): rules.run(r) for r in requests}
    verdicts = {key: decide_verdict(result.criteria, result.findings) for key, result in found.items()}

    def judge_alone(request: ReviewRequest) -> Any:
        result = found[id(request)]
        return shipped.apply(request, result.criteria, result.findings, verdicts[id(request)])

    judge_rate = _rate(judge_alone, requests, args.rounds)
    check_rate = _rate(lambda r: check(r, rewrite=False), requests, max(1, args.rounds // 2))
    judged_rate = _rate(lambda r: check(r, judge="default", rewrite=False), requests, max(1, args.rounds // 2))
    repair_rate = _rate(check, requests, max(1, args.rounds // 4))
    print(f"replies: {len(requests)}, rounds: {args.rounds} (best round, CPU time of one process)")
    print(f"rules.run:       {engine_rate:>9,.0f} reviews/s   (target >= {TARGET:,})")
    print(f"judge.apply:     {judge_rate:>9,.0f} reviews/s   (the shipped learned judge alone; target >= 2,000)")
    print(f"reviewer.check:  {check_rate:>9,.0f} reviews/s   (rewrite=False: rules + verdict, reasons, score, Review)")
    print(f"  judge=default: {judged_rate:>9,.0f} reviews/s   (the same with the shipped learned judge)")
    print(f"  with repair:   {repair_rate:>9,.0f} reviews/s   (the default: + the verified repair of drafts to fix)")
    return 0 if engine_rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
