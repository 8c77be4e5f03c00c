"""Run eval cases through the real engine and keep what each one answered.

``model == "rules"`` uses :func:`reviewer.engine.check`; any other model goes
through :func:`reviewer.engine.areview`, with (for ``--record``/``--replay``) a
completion function bound to the case that records or replays the model's responses.
The model's own judgement, shown in a report beside the merged review, is the
review's ``engine.model_criteria``: the runner is a thin shell over the engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from reviewer import engine, rubric
from reviewer.config import Settings
from reviewer.evaluation.cases import EvalCase
from reviewer.evaluation.recordings import RecordingCompletion
from reviewer.models import CriterionId, Review, Status, Verdict

RULES_MODEL = "rules"
Mode = Literal["live", "record", "replay"]


@dataclass
class CaseOutcome:
    """What the engine answered for one case (``review`` is None when it raised)."""

    case: EvalCase
    review: Review | None
    latency_ms: float
    error: str | None = None
    rules_review: Review | None = None
    model_criteria: dict[CriterionId, Status] | None = None
    model_verdict: Verdict | None = None


@dataclass
class Runner:
    """Runs cases with bounded concurrency; ``model`` is ``"rules"`` or a litellm model string."""

    model: str
    settings: Settings
    concurrency: int = 4
    mode: Mode = "live"
    recorder: RecordingCompletion | None = None
    on_done: Callable[[CaseOutcome], None] | None = None

    async def run(self, cases: list[EvalCase]) -> list[CaseOutcome]:
        semaphore = asyncio.Semaphore(max(1, self.concurrency))

        async def one(case: EvalCase) -> CaseOutcome:
            async with semaphore:
                outcome = await self._run_one(case)
            if self.on_done is not None:
                self.on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(case) for case in cases)))

    async def _run_one(self, case: EvalCase) -> CaseOutcome:
        started = time.perf_counter()
        try:
            if self.model == RULES_MODEL:
                review = engine.check(case.input)
            elif self.recorder is not None:
                review = await engine.areview(case.input, self.settings, completion=self.recorder.for_case(case.id))
            else:
                review = await engine.areview(case.input, self.settings)
            latency = (time.perf_counter() - started) * 1000
        except Exception as exc:  # an engine bug must cost one case, not the run
            latency = (time.perf_counter() - started) * 1000
            return CaseOutcome(case, None, latency, error=f"{type(exc).__name__}: {exc}")
        outcome = CaseOutcome(case, review, latency)
        if self.model != RULES_MODEL:
            outcome.rules_review = engine.check(case.input, rewrite=False)  # for its judgement only
            judged = review.engine.model_criteria  # the model's own statuses, as the engine took them
            if judged is not None:
                outcome.model_criteria, outcome.model_verdict = judged, rubric.status_verdict(judged)
        return outcome
