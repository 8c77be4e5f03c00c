"""The embedded local model: load time, review latency, generation rate and rewrite quality on real replies.

Prints:

- load: seconds to verify/reuse the weights and start the runtime's server (once per process);
- raw vs reviewer generation rate on the *same* prompt (the first reply's review
  messages, schema-constrained): the runtime's own server called directly over HTTP
  against the reviewer's model call (litellm, validation) — overhead target <= 10%;
- review latency p50/p95 over N real replies (``engine.areview``: rules, model,
  merge, verified rewrite) — target p50 <= 6 s on 2 cores;
- how many rewrites came back ``verified``, verdicts, degraded reviews, re-asks;
- a few before/after examples.

    python bench/local_model.py [--n 20] [--prompt review@v1] [--examples 4] [--json-out FILE]

The machine is shared: run with a small --n first, and read the figures with the
load average that is printed (other processes running a model slow it down).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import reviewer  # noqa: F401  (sets LITELLM_LOCAL_MODEL_COST_MAP before litellm is imported)

REPLIES = Path(__file__).resolve().parents[1].parent / "shared" / "realworld" / "twcs_amazon_replies.jsonl"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def load_replies(path: Path, n: int) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:n]


async def rates(settings: Any, messages: list[dict[str, str]], output: str, rounds: int) -> dict[str, float]:
    """Generation rate (completion tokens / wall second) of the raw server vs the reviewer's call, same prompt."""
    import httpx

    from reviewer import llm, local
    from reviewer.llm_output import ModelReview, SummaryAndRewrite, json_schema

    running = await local.aserver(settings)
    answer_model: type[ModelReview] | type[SummaryAndRewrite] = (
        SummaryAndRewrite if output == "rewrite" else ModelReview
    )
    schema = llm.portable_schema(json_schema(answer_model))
    body = {
        "messages": messages,
        "temperature": 0,
        "max_tokens": 2000,
        "response_format": {"type": "json_schema", "json_schema": {"name": "review", "schema": schema, "strict": True}},
    }
    raw_rates: list[float] = []
    engine_rates: list[float] = []
    reviewer_rates: list[float] = []
    async with httpx.AsyncClient(timeout=600) as client:
        # Warm up both paths first: the prompt cache, and litellm's import and client (seconds on first use).
        await client.post(running.api_base + "/chat/completions", json=body)
        await llm.ModelCaller(settings).ask(
            local.DEFAULT_MODEL, llm.PromptMessages(messages, messages), answer_model, "review", {"temperature": 0}
        )
        for _ in range(rounds):
            started = time.perf_counter()
            response = (await client.post(running.api_base + "/chat/completions", json=body)).json()
            elapsed = time.perf_counter() - started
            raw_rates.append(response["usage"]["completion_tokens"] / elapsed)
            engine_rates.append(float(response.get("timings", {}).get("predicted_per_second", 0.0)))

            caller = llm.ModelCaller(settings)
            started = time.perf_counter()
            await caller.ask(
                local.DEFAULT_MODEL, llm.PromptMessages(messages, messages), answer_model, "review", {"temperature": 0}
            )
            elapsed = time.perf_counter() - started
            reviewer_rates.append(caller.stats.completion_tokens / elapsed)
    return {
        "raw_tokens_per_s": statistics.median(raw_rates),
        "runtime_decode_tokens_per_s": statistics.median(engine_rates),
        "reviewer_tokens_per_s": statistics.median(reviewer_rates),
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="real replies to review (default 20)")
    parser.add_argument("--prompt", default=None, help="prompt version, e.g. review@v1 (default: the engine's)")
    parser.add_argument("--rate-rounds", type=int, default=2, help="rounds of the raw-vs-reviewer rate comparison")
    parser.add_argument("--examples", type=int, default=4, help="before/after examples to print")
    parser.add_argument("--timeout", type=float, default=600.0, help="per-call timeout in seconds (default 600)")
    parser.add_argument("--replies", type=Path, default=REPLIES)
    parser.add_argument("--json-out", type=Path, help="write every review here (JSON lines)")
    args = parser.parse_args()

    from reviewer import engine, local, prompts, rules
    from reviewer.config import Settings, load_settings
    from reviewer.models import ReviewRequest

    if not local.available(Settings()):
        print(f"the local model is not installed: {local.INSTALL_HINT}", file=sys.stderr)
        return 2
    settings = load_settings(
        model=local.default_model(Settings(local_default=True)) or local.DEFAULT_MODEL,
        # Measure how long reviews take, not whether they fit the default per-call timeout.
        timeout_s=args.timeout,
        deadline_s=args.timeout * 3,
        prompt=args.prompt,  # None: not given
    )
    print(f"cores: {os.cpu_count()}  load average before: {os.getloadavg()[0]:.2f}")

    started = time.perf_counter()
    running = await local.aserver(settings)
    loaded = time.perf_counter() - started
    print(f"load: {loaded:.2f} s (runtime start {running.load_seconds:.2f} s) {running.api_base}")

    replies = load_replies(args.replies, args.n)
    requests = [ReviewRequest(draft=row["reply"], customer_message=row["customer"]) for row in replies]

    prompt = prompts.load(engine.prompt_for(settings.model or local.DEFAULT_MODEL, settings))
    first = requests[0]
    found = rules.run(first)
    messages = prompts.render(prompt, first, found.findings, None, found.criteria)
    if args.rate_rounds > 0:
        rate = await rates(settings, messages, prompt.output, args.rate_rounds)
        overhead = 1 - rate["reviewer_tokens_per_s"] / rate["raw_tokens_per_s"]
        print(
            f"generation rate, same prompt ({prompt.ref}): raw server {rate['raw_tokens_per_s']:.1f} tok/s "
            f"(runtime's decode-only {rate['runtime_decode_tokens_per_s']:.1f}), "
            f"through the reviewer {rate['reviewer_tokens_per_s']:.1f} tok/s -> overhead {overhead:.1%}"
        )

    latencies: list[float] = []
    reviews = []
    out = args.json_out.open("w", encoding="utf-8") if args.json_out else None
    for row, request in zip(replies, requests, strict=True):
        started = time.perf_counter()
        review = await engine.areview(request, settings)
        latencies.append(time.perf_counter() - started)
        reviews.append(review)
        rewrite = review.rewrite.status if review.rewrite else "-"
        print(
            f"  {row['id']:>6} {latencies[-1]:6.1f} s  {review.verdict:<6} rewrite={rewrite:<10} "
            f"out={review.engine.usage.completion_tokens:>4} tok reasks={review.engine.reasks}"
            f"{'  DEGRADED: ' + (review.engine.degraded_reason or '')[:80] if review.engine.degraded else ''}",
            flush=True,
        )
        if out:
            out.write(json.dumps({"id": row["id"], "review": review.model_dump(mode="json")}) + "\n")
    if out:
        out.close()

    verified = sum(1 for r in reviews if r.rewrite and r.rewrite.status == "verified")
    with_rewrite = sum(1 for r in reviews if r.rewrite)
    degraded = sum(1 for r in reviews if r.engine.degraded)
    verdicts = {v: sum(1 for r in reviews if r.verdict == v) for v in ("send", "revise", "block")}
    tokens = sum(r.engine.usage.completion_tokens for r in reviews)
    print(f"prompt: {prompt.ref}  replies: {len(reviews)}  load average now: {os.getloadavg()[0]:.2f}")
    print(
        f"review latency: p50 {percentile(latencies, 50):.1f} s  p95 {percentile(latencies, 95):.1f} s  "
        f"mean {statistics.mean(latencies):.1f} s  (completion tokens per review: {tokens / len(reviews):.0f})"
    )
    print(f"rewrites verified: {verified}/{with_rewrite}  degraded: {degraded}  verdicts: {verdicts}")
    shown = 0
    for row, review in zip(replies, reviews, strict=True):
        if shown >= args.examples or not review.rewrite:
            continue
        shown += 1
        print(f"\n--- {row['id']} ({review.verdict}; rewrite {review.rewrite.status})")
        print(f"customer: {row['customer']}")
        print(f"before:   {row['reply']}")
        print(f"after:    {review.rewrite.text}")
        if review.rewrite.problems:
            print(f"problems: {'; '.join(review.rewrite.problems)}")
    local.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
