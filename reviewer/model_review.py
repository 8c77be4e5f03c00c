"""The model path of a full review: prompt, model call, merge with the rules, verified rewrite.

Kept apart from :mod:`reviewer.engine` so the rules-only path (``reviewer check``
without a model) never imports litellm, tenacity or the prompt machinery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from reviewer import cpu, llm, merge, prompts, rewrite, rubric, rules
from reviewer.config import Settings
from reviewer.engine import build_review
from reviewer.llm_output import ModelReview, RewriteOnly, SummaryAndRewrite
from reviewer.models import Engine, Review, ReviewRequest, Rewrite, Usage

AnswerT = TypeVar("AnswerT", bound=BaseModel)


async def model_review(
    request: ReviewRequest,
    settings: Settings,
    model: str,
    completion: llm.Completion | None,
    trust: merge.TrustMap | None,
) -> Review:
    started = time.perf_counter()
    if cpu.small(request.draft, request.customer_message):
        found = rules.run(request)
    else:
        found = await cpu.run(settings.rules_budget_s, rules.run, request)
    caller = llm.ModelCaller(settings, completion)
    engine = Engine(rules_version=rules.RULES_VERSION, prompt_version=settings.prompt, mode="llm")
    try:
        prompt = prompts.load(prompt_for(model, settings))
    except prompts.PromptError as exc:
        return _degraded(request, found, engine, f"prompt: {exc}", caller, started, settings.judge)
    engine.prompt_version = prompt.ref
    candidates = [model, *(m for m in settings.fallback_models if m != model)]
    failures: list[str] = []
    first = 0
    if prompt.output == "rewrite":
        # A prompt chosen for the local model is answered by it alone; fallbacks get the general prompt.
        first = len(candidates) if "prompt" in settings.model_fields_set else 1
        done = await _rules_judge_model_rewrites(
            request, settings, candidates[:first], prompt, found, caller, engine, started, failures
        )
        if done is not None:
            return done
        if first >= len(candidates):
            return _degraded(
                request, found, engine, "every model failed: " + " | ".join(failures), caller, started, settings.judge
            )
        try:
            prompt = prompts.load(settings.prompt)
        except prompts.PromptError as exc:
            return _degraded(request, found, engine, f"prompt: {exc}", caller, started, settings.judge)
        engine.prompt_version = prompt.ref

    def review_messages(schema: dict[str, Any] | None) -> list[dict[str, str]]:
        return prompts.render(prompt, request, found.findings, schema, found.criteria)

    answered = await _first_answer(caller, candidates, first, engine, review_messages, ModelReview, prompt, failures)
    if answered is None:
        return _degraded(
            request, found, engine, "every model failed: " + " | ".join(failures), caller, started, settings.judge
        )
    used, answer = answered

    if trust is None:  # the answering model's measured trust profile, else the conservative one
        from reviewer import trust as trust_profiles

        trust = trust_profiles.trust_map_for(used, prompt.ref)
    merged = merge.merge(request.draft, found.criteria, found.findings, answer, trust)
    merged_result = rules.RulesResult(findings=merged.findings, criteria=merged.criteria)
    review = build_review(request, merged_result, engine, settings.judge)
    review.summary = answer.summary
    meant_to_fix = [c.id for c in merged.criteria if c.status == "fail"]
    review.rewrite = await _verified_rewrite(
        request, settings, caller, used, prompt, found, answer.rewrite, meant_to_fix
    )
    engine.model = used
    engine.dropped_quotes = merged.dropped_quotes
    _record_stats(engine, caller, started)
    return review


def prompt_for(model: str, settings: Settings) -> str:
    """The prompt version: the one set explicitly, else the local model's own (written for small models)."""
    if "prompt" in settings.model_fields_set:
        return settings.prompt
    from reviewer import local

    return local.default_prompt(model) or settings.prompt


async def _rules_judge_model_rewrites(
    request: ReviewRequest,
    settings: Settings,
    models: list[str],
    prompt: prompts.Prompt,
    found: rules.RulesResult,
    caller: llm.ModelCaller,
    engine: Engine,
    started: float,
    failures: list[str],
) -> Review | None:
    """A prompt with ``output: rewrite``: the rules' judgement stands alone; the model writes summary and rewrite.

    For models measured to judge worse than the rules (the embedded 1.5B one, see
    FINDINGS): their time goes into the verified rewrite, not into judgements the
    merge would not trust. None (with ``failures`` filled in) when no model answered.
    """

    def messages(schema: dict[str, Any] | None) -> list[dict[str, str]]:
        return prompts.render(prompt, request, found.findings, schema, found.criteria)

    if rubric.decide_verdict(found.criteria, found.findings) == "send":
        # The rules judge here and find nothing to fix, so a rewrite could only make it worse.
        # Measured: asked anyway, the 1.5B model turned "I'm sorry we've let you down" into
        # "I'm sorry you feel upset". No model is consulted, and the engine says so.
        review = build_review(request, found, engine, settings.judge)
        review.summary = "The checks found nothing to fix; the draft was not sent to the model for a rewrite."
        engine.mode = "rules"
        engine.model = None
        _record_stats(engine, caller, started)
        return review

    answered = await _first_answer(caller, models, 0, engine, messages, SummaryAndRewrite, prompt, failures)
    if answered is None:
        return None
    candidate, answer = answered
    review = build_review(request, found, engine, settings.judge)
    review.summary = answer.summary
    meant_to_fix = [c.id for c in found.criteria if c.status == "fail"]
    review.rewrite = await _verified_rewrite(
        request, settings, caller, candidate, prompt, found, answer.rewrite, meant_to_fix
    )
    engine.model = candidate
    _record_stats(engine, caller, started)
    return review


async def _first_answer(
    caller: llm.ModelCaller,
    candidates: list[str],
    start: int,
    engine: Engine,
    messages_for: Callable[[dict[str, Any] | None], list[dict[str, str]]],
    output_model: type[AnswerT],
    prompt: prompts.Prompt,
    failures: list[str],
) -> tuple[str, AnswerT] | None:
    """Ask the candidates in order from ``start``: the first valid answer wins; failures go to ``failures``."""
    for index in range(start, len(candidates)):
        candidate = candidates[index]
        if index:
            engine.fallbacks_used = index
        try:
            answer, _raw = await caller.ask(candidate, messages_for, output_model, "review", dict(prompt.params))
        except llm.ModelFailed as exc:
            failures.append(f"{candidate}: {exc}")
            continue
        return candidate, answer
    return None


async def _verified_rewrite(
    request: ReviewRequest,
    settings: Settings,
    caller: llm.ModelCaller,
    model: str,
    prompt: prompts.Prompt,
    found: rules.RulesResult,
    text: str,
    meant_to_fix: Sequence[str],
) -> Rewrite:
    """Check the rewrite; re-ask the same model with the exact problems, bounded; else return it unverified."""
    attempts = 1
    problems = await _problems(settings, request, text, meant_to_fix)
    while problems and attempts <= settings.max_rewrite_reasks:
        def fix_messages(
            schema: dict[str, Any] | None, current: str = text, listed: list[str] = problems
        ) -> list[dict[str, str]]:
            return [
                *prompts.render(prompt, request, found.findings, None, found.criteria),
                {"role": "assistant", "content": json.dumps({"rewrite": current})},
                {"role": "user", "content": rewrite.reask_text(listed, schema)},
            ]

        try:
            fixed, _raw = await caller.ask(model, fix_messages, RewriteOnly, "rewrite", dict(prompt.params))
        except llm.ModelFailed as exc:
            problems = [*problems, f"could not get a corrected rewrite: {exc}"]
            break
        attempts += 1
        text = fixed.rewrite
        problems = await _problems(settings, request, text, meant_to_fix)
    status: Literal["verified", "unverified"] = "unverified" if problems else "verified"
    return Rewrite(text=text, status=status, problems=problems, attempts=attempts)


async def _problems(settings: Settings, request: ReviewRequest, text: str, meant_to_fix: Sequence[str]) -> list[str]:
    """``rewrite.problems``, on the CPU pool unless the texts are short."""
    if cpu.small(request.draft, request.customer_message, text):
        return rewrite.problems(request, text, meant_to_fix)
    return await cpu.run(settings.rules_budget_s, rewrite.problems, request, text, list(meant_to_fix))


def _record_stats(engine: Engine, caller: llm.ModelCaller, started: float) -> None:
    stats = caller.stats
    engine.attempts = stats.attempts
    engine.reasks = stats.reasks
    engine.usage = Usage(
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        total_tokens=stats.prompt_tokens + stats.completion_tokens,
        cost_usd=stats.cost_usd,
    )
    engine.latency_ms = round((time.perf_counter() - started) * 1000, 3)


def _degraded(
    request: ReviewRequest,
    found: rules.RulesResult,
    engine: Engine,
    reason: str,
    caller: llm.ModelCaller,
    started: float,
    judge_choice: str | None,
) -> Review:
    """The rules-only review, marked degraded with why: what a caller gets when no model answered."""
    engine.mode = "rules"
    engine.model = None
    engine.degraded = True
    engine.degraded_reason = reason[:2000]
    review = build_review(request, found, engine, judge_choice)
    _record_stats(review.engine, caller, started)
    return review
