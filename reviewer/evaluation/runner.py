"""Run eval cases through the real engine and keep what each one answered.

``model == "rules"`` uses :func:`reviewer.engine.check`; any other model goes
through :func:`reviewer.engine.areview`, with a completion function that can
record or replay the model's responses and that keeps the model's raw answer,
so a report can show the model's own judgement beside the merged review.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from reviewer import engine, rubric
from reviewer.config import Settings
from reviewer.evaluation.cases import EvalCase
from reviewer.evaluation.recordings import CompletionFn, RecordingCompletion, current_case
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
class _Capture:
    """Wraps a completion function and keeps every raw answer per case, to read the model's own judgement."""

    inner: CompletionFn
    answers: dict[str, list[str]] = field(default_factory=dict)

    async def __call__(self, **kwargs: Any) -> Any:
        response = await self.inner(**kwargs)
        case = current_case.get()
        if case is not None:
            with contextlib.suppress(AttributeError, IndexError):
                self.answers.setdefault(case, []).append(str(response.choices[0].message.content or ""))
        return response


def engine_accepts_completion() -> bool:
    """Whether this engine build lets a caller inject the completion function."""
    return "completion" in inspect.signature(engine.areview).parameters


def model_judgement(raw: str) -> tuple[dict[CriterionId, Status], Verdict] | None:
    """The model's own per-criterion statuses from its raw review answer, and the verdict they imply alone.

    The implied verdict is :func:`reviewer.rubric.status_verdict`.
    """
    start, end = raw.find("{"), raw.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(raw[start : end + 1])
    except json.JSONDecodeError:
        return None
    criteria = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(criteria, dict):
        return None
    statuses: dict[CriterionId, Status] = {}
    for cid in rubric.CRITERION_IDS:
        value = criteria.get(cid)
        status = value.get("status") if isinstance(value, dict) else value
        if status == "pass" or status == "fail" or status == "na":
            statuses[cid] = status
    if not statuses:
        return None
    return statuses, rubric.status_verdict(statuses)


@dataclass
class Runner:
    """Runs cases with bounded concurrency; ``model`` is ``"rules"`` or a litellm model string."""

    model: str
    settings: Settings
    concurrency: int = 4
    mode: Mode = "live"
    recorder: RecordingCompletion | None = None
    on_done: Callable[[CaseOutcome], None] | None = None
    _capture: _Capture | None = None

    async def run(self, cases: list[EvalCase]) -> list[CaseOutcome]:
        if self.model != RULES_MODEL and engine_accepts_completion():
            inner: CompletionFn
            if self.recorder is not None:
                inner = self.recorder
            else:
                from reviewer import litellm_quiet

                inner = litellm_quiet.load().acompletion
            self._capture = _Capture(inner)
        semaphore = asyncio.Semaphore(max(1, self.concurrency))

        async def one(case: EvalCase) -> CaseOutcome:
            async with semaphore:
                outcome = await self._run_one(case)
            if self.on_done is not None:
                self.on_done(outcome)
            return outcome

        return list(await asyncio.gather(*(one(case) for case in cases)))

    async def _run_one(self, case: EvalCase) -> CaseOutcome:
        token = current_case.set(case.id)
        started = time.perf_counter()
        try:
            if self.model == RULES_MODEL:
                review = engine.check(case.input)
            elif self._capture is not None:
                areview: Any = engine.areview
                review = await areview(case.input, self.settings, completion=self._capture)
            else:
                review = await engine.areview(case.input, self.settings)
            latency = (time.perf_counter() - started) * 1000
        except Exception as exc:  # an engine bug must cost one case, not the run
            latency = (time.perf_counter() - started) * 1000
            return CaseOutcome(case, None, latency, error=f"{type(exc).__name__}: {exc}")
        finally:
            current_case.reset(token)
        outcome = CaseOutcome(case, review, latency)
        if self.model != RULES_MODEL:
            outcome.rules_review = engine.check(case.input, rewrite=False)  # for its judgement only
            answers = self._capture.answers.get(case.id, []) if self._capture else []
            # the first answer that parses as a review (a re-ask may follow an invalid one)
            judged = next((j for j in map(model_judgement, answers) if j is not None), None)
            if judged is not None:
                outcome.model_criteria, outcome.model_verdict = judged
        return outcome
