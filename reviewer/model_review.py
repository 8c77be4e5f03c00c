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

from reviewer import cpu, llm, merge, prompts, repair, rewrite, rubric, rules
from reviewer.config import Settings
from reviewer.llm_output import ModelReview, RewriteOnly, SummaryAndRewrite, json_schema
from reviewer.models import CriterionId, Engine, Review, ReviewRequest, Rewrite, Status, Usage
from reviewer.verdict import build_review

AnswerT = TypeVar("AnswerT", bound=BaseModel)


async def model_review(
    request: ReviewRequest,
    settings: Settings,
    model: str,
    prompt_ref: str,
    completion: llm.Completion | None,
    trust: merge.TrustMap | None,
) -> Review:
    """The review by ``model`` (the fallbacks after it) with the prompt ``prompt_ref``, as
    :func:`reviewer.engine.plan` chose them, merged with the rules; degraded, never raising."""
    started = time.perf_counter()
    found = await cpu.run_sized(settings.rules_budget_s, (request.draft, request.customer_message), rules.run, request)
    repaired = repair.repair(request, found)  # milliseconds; what is returned when no model's rewrite does better
    caller = llm.ModelCaller(settings, completion)
    engine = Engine(rules_version=rules.RULES_VERSION, prompt_version=settings.prompt, mode="llm")
    try:
        prompt = prompts.load(prompt_ref)
    except prompts.PromptError as exc:
        return _degraded(request, found, engine, f"prompt: {exc}", caller, started, settings.judge, repaired)
    engine.prompt_version = prompt.ref
    candidates = [model, *(m for m in settings.fallback_models if m != model)]
    failures: list[str] = []
    first = 0
    if prompt.output in ("rewrite", "polish"):
        # A prompt chosen for the local model is answered by it alone; fallbacks get the general prompt.
        first = len(candidates) if "prompt" in settings.model_fields_set else 1
        done = await _rules_judge_model_rewrites(
            request, settings, candidates[:first], prompt, found, caller, engine, started, failures, repaired
        )
        if done is not None:
            return done
        if first >= len(candidates):
            return _degraded(
                request, found, engine, no_model_answered(failures), caller, started, settings.judge, repaired
            )
        try:
            prompt = prompts.load(settings.prompt)
        except prompts.PromptError as exc:
            return _degraded(request, found, engine, f"prompt: {exc}", caller, started, settings.judge, repaired)
        engine.prompt_version = prompt.ref

    def review_messages(schema: dict[str, Any] | None) -> list[dict[str, str]]:
        return prompts.render(prompt, request, found.findings, schema, found.criteria)

    answered = await _first_answer(caller, candidates, first, engine, review_messages, ModelReview, prompt, failures)
    if answered is None:
        return _degraded(request, found, engine, no_model_answered(failures), caller, started, settings.judge, repaired)
    used, answer = answered

    if trust is None:  # the answering model's measured trust profile, else the conservative one
        from reviewer import trust as trust_profiles

        trust = trust_profiles.trust_map_for(used, prompt.ref)
    merged = merge.merge(request.draft, found.criteria, found.findings, answer, trust)
    review = build_review(request, merged.criteria, merged.findings, engine, settings.judge)
    meant_to_fix = [c.id for c in merged.criteria if c.status == "fail"]
    written = await _verified_rewrite(request, settings, caller, used, prompt, found, answer.rewrite, meant_to_fix)
    review.rewrite = choose(written, repaired)
    engine.model = used
    engine.dropped_quotes = merged.dropped_quotes
    _record_stats(engine, caller, started)
    return review


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
    repaired: Rewrite | None,
) -> Review | None:
    """A prompt with ``output: rewrite`` or ``polish``: the rules' judgement stands alone; the model only writes.

    For models measured to judge worse than the rules (the embedded 1.5B one, see
    FINDINGS): their time goes into the rewrite, not into judgements the merge would
    not trust. With ``polish`` the model is given the deterministic repair and returns only
    the reply; the verified one of the two is returned (:func:`choose`). None (with
    ``failures`` filled in) when no model answered.
    """
    polish = prompt.output == "polish"

    def messages(schema: dict[str, Any] | None) -> list[dict[str, str]]:
        return prompts.render(prompt, request, found.findings, schema, found.criteria,
                              repaired.text if repaired is not None and polish else None)

    if rubric.decide_verdict(found.criteria, found.findings) == "send":
        # The rules judge here and find nothing to fix, so a rewrite could only make it worse.
        # Measured: asked anyway, the 1.5B model turned "I'm sorry we've let you down" into
        # "I'm sorry you feel upset". No model is consulted, and the engine says so.
        review = build_review(request, found.criteria, found.findings, engine, settings.judge)
        engine.mode = "rules"
        engine.model = None
        _record_stats(engine, caller, started)
        return review

    output_model: type[RewriteOnly] | type[SummaryAndRewrite] = RewriteOnly if polish else SummaryAndRewrite
    answered = await _first_answer(caller, models, 0, engine, messages, output_model, prompt, failures)
    if answered is None:
        return None
    candidate, answer = answered
    review = build_review(request, found.criteria, found.findings, engine, settings.judge)
    meant_to_fix = [c.id for c in found.criteria if c.status == "fail"]
    if polish:  # no re-ask: the verified repair is already there to fall back on
        problems = await _problems(settings, request, answer.rewrite, meant_to_fix)
        if repaired is not None:
            problems += repair.polish_problems(request, repaired.text, answer.rewrite)
        written = Rewrite(text=answer.rewrite, status="unverified" if problems else "verified", problems=problems,
                          facts_kept=rewrite.kept_facts(request, answer.rewrite))
    else:
        written = await _verified_rewrite(
            request, settings, caller, candidate, prompt, found, answer.rewrite, meant_to_fix
        )
    review.rewrite = choose(written, repaired)
    engine.model = candidate
    _record_stats(engine, caller, started)
    return review


def choose(written: Rewrite, repaired: Rewrite | None) -> Rewrite:
    """The model's rewrite when verified, else the verified repair, else the one with fewer problems; says why."""
    written.placeholders = repair.placeholders(written.text)
    if written.status == "verified":
        unchanged = repaired is not None and " ".join(written.text.split()) == " ".join(repaired.text.split())
        written.reason = ("the model kept the repair as it was; it passed every check" if unchanged
                          else "the model's rewrite passed every check")
        return written
    why = "; ".join(written.problems[:3]) + (" …" if len(written.problems) > 3 else "")
    if repaired is None:
        written.reason = "the model's rewrite failed checks and there is no repair to fall back on"
        return written
    if repaired.status == "verified" or len(repaired.problems) <= len(written.problems):
        chosen = repaired.model_copy()
        chosen.reason = f"the model's rewrite failed checks ({why}); the repair is returned instead"
        return chosen
    written.reason = "the model's rewrite failed checks, the repair failed more"
    return written


def no_model_answered(failures: list[str]) -> str:
    """The degraded reason when no model answered: each model's failure, in plain words where we know them."""
    return "no model answered: " + " | ".join(plain_failure(f) for f in failures)


def plain_failure(failure: str) -> str:
    """A model failure, with a timeout said in plain words rather than as a client's exception text."""
    lowered = failure.lower()
    if "deadline" in lowered or "timeout" in lowered or "timed out" in lowered:
        model, _, detail = failure.partition(": ")
        return f"{model}: did not answer within the review's deadline ({detail[:300]})"
    return failure


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
    messages = _both_ways(messages_for, output_model)
    for index in range(start, len(candidates)):
        candidate = candidates[index]
        if index:
            engine.fallbacks_used = index
        try:
            answer, _raw = await caller.ask(candidate, messages, output_model, "review", dict(prompt.params))
        except llm.ModelFailed as exc:
            failures.append(f"{candidate}: {exc}")
            continue
        return candidate, answer
    return None


def _both_ways(
    render: Callable[[dict[str, Any] | None], list[dict[str, str]]], output_model: type[BaseModel]
) -> llm.PromptMessages:
    """The messages without the schema (for ``response_format``) and with it written in (JSON mode)."""
    return llm.PromptMessages(render(None), render(json_schema(output_model)))


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
            fixed, _raw = await caller.ask(
                model, _both_ways(fix_messages, RewriteOnly), RewriteOnly, "rewrite", dict(prompt.params)
            )
        except llm.ModelFailed as exc:
            problems = [*problems, f"could not get a corrected rewrite: {exc}"]
            break
        attempts += 1
        text = fixed.rewrite
        problems = await _problems(settings, request, text, meant_to_fix)
    status: Literal["verified", "unverified"] = "unverified" if problems else "verified"
    kept = rewrite.kept_facts(request, text)
    return Rewrite(text=text, status=status, problems=problems, attempts=attempts, facts_kept=kept)


async def _problems(settings: Settings, request: ReviewRequest, text: str, meant_to_fix: Sequence[str]) -> list[str]:
    """``rewrite.problems``, on the CPU pool unless the texts are short."""
    texts = (request.draft, request.customer_message, text)
    return await cpu.run_sized(settings.rules_budget_s, texts, rewrite.problems, request, text, list(meant_to_fix))


def _record_stats(engine: Engine, caller: llm.ModelCaller, started: float) -> None:
    stats = caller.stats
    # The model's own judgement: the first answer that holds one (a re-asked or rejected answer counts too).
    engine.model_criteria = next(filter(None, map(statuses_in, stats.answers)), None)
    engine.attempts = stats.attempts
    engine.reasks = stats.reasks
    engine.usage = Usage(
        prompt_tokens=stats.prompt_tokens,
        completion_tokens=stats.completion_tokens,
        total_tokens=stats.prompt_tokens + stats.completion_tokens,
        cost_usd=stats.cost_usd,
        cached_prompt_tokens=stats.cached_prompt_tokens,
        draft_tokens=stats.draft_tokens,
        draft_accepted=stats.draft_accepted,
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
    repaired: Rewrite | None = None,
) -> Review:
    """The rules-only review, marked degraded with why, and the repair: what a caller gets when no model answered."""
    engine.mode = "rules"
    engine.model = None
    engine.degraded = True
    engine.degraded_reason = reason[:2000]
    review = build_review(request, found.criteria, found.findings, engine, judge_choice)
    if repaired is not None:
        review.rewrite = repaired.model_copy(update={"reason": "no model answered; the repair is returned"})
    _record_stats(review.engine, caller, started)
    return review


def statuses_in(raw: str) -> dict[CriterionId, Status] | None:
    """The per-criterion statuses in a raw answer, read leniently (an answer rejected for its summary or a
    quote still says what the model judged); None when it holds no criteria."""
    try:
        data = llm.extract_json(raw)
    except llm.InvalidOutput:
        return None
    criteria = data.get("criteria") if isinstance(data, dict) else None
    if not isinstance(criteria, dict):
        return None
    statuses: dict[CriterionId, Status] = {}
    for criterion in rubric.CRITERIA:
        value = criteria.get(criterion.id)
        status = value.get("status") if isinstance(value, dict) else value
        if status == "pass" or status == "fail" or status == "na":
            statuses[criterion.id] = status
    return statuses or None
