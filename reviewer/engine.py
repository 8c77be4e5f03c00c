"""The one path every caller takes: ``check()`` (rules only) and ``review()`` (LLM when configured).

The CLI, the HTTP service and the eval harness are thin shells over these
functions; none of them decides anything about a review.
"""

from __future__ import annotations

import asyncio
import time

from reviewer import rubric, rules
from reviewer.config import Settings
from reviewer.models import Engine, Review, ReviewRequest


def build_review(request: ReviewRequest, result: rules.RulesResult, engine: Engine) -> Review:
    """Turn criterion results and findings into a Review with verdict and score."""
    verdict = rubric.decide_verdict(result.criteria, result.findings)
    return Review(
        verdict=verdict,
        score=rubric.score(result.criteria, verdict),
        criteria=result.criteria,
        findings=result.findings,
        engine=engine,
    )


def check(request: ReviewRequest | str, customer_message: str | None = None) -> Review:
    """Review a draft with the rules engine alone: synchronous, offline, deterministic."""
    if isinstance(request, str):
        request = ReviewRequest(draft=request, customer_message=customer_message)
    started = time.perf_counter()
    result = rules.run(request)
    engine = Engine(rules_version=rules.RULES_VERSION, mode="rules")
    review = build_review(request, result, engine)
    review.engine.latency_ms = round((time.perf_counter() - started) * 1000, 3)
    return review


def resolve_model(settings: Settings) -> str | None:
    """Which model a full review uses: an explicit one, else the embedded local model when installed, else none.

    ``rules_only`` always means none. The local model is ``local/<name>`` (see
    ``reviewer.local``); checking for it imports nothing heavy and loads nothing.
    """
    if settings.rules_only:
        return None
    if settings.model:
        return settings.model
    from reviewer import local

    return local.default_model(settings)


def no_model_notice(settings: Settings) -> str | None:
    """One line for the CLI when a full review falls back to the rules alone for want of a model, else None."""
    if settings.rules_only or resolve_model(settings) is not None:
        return None
    from reviewer import local

    return (
        "note: rules-only review (no model configured). For the LLM review, offline: "
        f"{local.INSTALL_HINT}; or set --model / REVIEWER_MODEL."
    )


async def areview(request: ReviewRequest, settings: Settings | None = None) -> Review:
    """The full review: the LLM reviewer when a model resolves, else the rules engine alone.

    Never raises for a model failure: a failing model gives the rules review marked degraded.
    SCAFFOLD: the LLM-reviewer issue fills in the model path.
    """
    settings = settings or Settings()
    model = resolve_model(settings)
    if model is None:
        return check(request)
    raise NotImplementedError("the LLM reviewer is not built yet")


def review(request: ReviewRequest, settings: Settings | None = None) -> Review:
    """Synchronous wrapper around :func:`areview` for scripts and the CLI."""
    return asyncio.run(areview(request, settings))
