"""A model on a budget: only a sample, or only the rows the rules flag, go to the LLM reviewer.

The rules review every row first (in the pool); the rows a :class:`ModelPlan` wants are held
back and, after the pool is done, reviewed with the public ``reviewer.areview`` at most
``concurrency`` at a time, each written as it finishes. Before the first call, the plan's
cost is estimated from litellm's price map (offline) and printed: a team sees what a run
will cost before it pays for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reviewer.batch.read import Row, build_request
from reviewer.batch.store import Reviewed, Writer, record

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from reviewer.batch.summary import Summary
    from reviewer.config import Settings

# Output tokens of one review's first call, for the estimate: the full review prompt judges ten
# criteria with quotes (≈900 tokens measured with the embedded model, README); a rewrite-only
# prompt writes a summary and a rewrite (≈200).
OUTPUT_TOKENS = {"review": 900, "rewrite": 250}
ESTIMATE_SAMPLE = 200  # prompts rendered and counted for the estimate; the rest are scaled from them


@dataclass
class ModelPlan:
    """Which rows a model reviews: ``sample`` rows chosen by hash, or those whose rules verdict is in ``when``."""

    settings: Settings
    model: str
    prompt: str
    sample: int | None = None
    when: frozenset[str] | None = None
    concurrency: int = 4
    chosen: set[str] = field(default_factory=set)

    def choose(self, pending_ids: Iterable[str]) -> None:
        """Fix the sample among the rows still to review (the same rows on every rerun)."""
        if self.sample is not None:
            self.chosen = sample_ids(pending_ids, self.sample)

    def wants(self, reviewed: Reviewed) -> bool:
        if self.sample is not None:
            return reviewed.id in self.chosen
        return self.when is not None and reviewed.verdict in self.when


def sample_ids(ids: Iterable[str], n: int) -> set[str]:
    """``n`` ids, the smallest by sha256: a uniform sample that does not depend on the input order."""
    return set(heapq.nsmallest(n, ids, key=lambda i: hashlib.sha256(i.encode()).digest()))


@dataclass(frozen=True)
class Estimate:
    rows: int
    prompt_tokens: int
    output_tokens: int
    cost_usd: float | None

    def describe(self, model: str, concurrency: int) -> str:
        cost = "unknown (litellm's price map has no price for this model)"
        if self.cost_usd is not None:
            cost = f"about ${self.cost_usd:,.4f}"
        return (
            f"model: {self.rows:,} rows to {model}, at most {concurrency} at once; estimated "
            f"{self.prompt_tokens:,} prompt + {self.output_tokens:,} output tokens for the first calls, cost {cost} "
            "(re-asks and rewrite checks add to it)"
        )


def estimate(rows: Sequence[Row], plan: ModelPlan) -> Estimate:
    """Tokens of the first call of each review (counted on up to 200 rendered prompts, scaled) and their price."""
    from reviewer import litellm_quiet, prompts, rules

    litellm = litellm_quiet.load()
    prompt = prompts.load(plan.prompt)
    counted = rows[:ESTIMATE_SAMPLE]
    prompt_tokens = 0
    for row in counted:
        request = build_request(row)
        found = rules.run(request)
        messages = prompts.render(prompt, request, found.findings, None, found.criteria)
        prompt_tokens += int(litellm.token_counter(model=plan.model, messages=messages))
    scale = len(rows) / len(counted) if counted else 0.0
    total_prompt = round(prompt_tokens * scale)
    total_output = len(rows) * OUTPUT_TOKENS["rewrite" if prompt.output == "rewrite" else "review"]
    try:
        prompt_cost, output_cost = litellm.cost_per_token(
            model=plan.model, prompt_tokens=total_prompt, completion_tokens=total_output
        )
        cost: float | None = float(prompt_cost) + float(output_cost)
    except Exception:  # litellm raises for a model it has no price for
        cost = None
    return Estimate(len(rows), total_prompt, total_output, cost)


def review_with_model(
    rows: Sequence[Row],
    plan: ModelPlan,
    writer: Writer,
    summary: Summary,
    progress: Progress,
    console: Console,
) -> None:
    """Print the estimate, then review ``rows`` with the model, ``plan.concurrency`` at a time."""
    console.print(
        f"reviewer: {estimate(rows, plan).describe(plan.model, plan.concurrency)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    task = progress.add_task("model review", total=len(rows))
    asyncio.run(_review_all(rows, plan, writer, summary, lambda: progress.advance(task)))


async def _review_all(
    rows: Sequence[Row], plan: ModelPlan, writer: Writer, summary: Summary, advance: Callable[[], None]
) -> None:
    from reviewer import areview

    gate = asyncio.Semaphore(plan.concurrency)

    async def one(row: Row) -> None:
        async with gate:
            review = await areview(build_request(row), plan.settings)
        writer.write([record(row, review.verdict, review.score, review.model_dump_json())])
        summary.reviewed += 1
        summary.by_model += 1
        summary.verdicts[review.verdict] += 1
        summary.degraded += review.engine.degraded
        summary.cost_usd += review.engine.usage.cost_usd or 0.0
        advance()

    await asyncio.gather(*(one(row) for row in rows))
