"""One eval run, end to end: load the cases, run them, score them, gate against a baseline, write reports.

``reviewer eval`` is a thin shell over :func:`run_eval`; tests call it too.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reviewer import engine, rules
from reviewer.config import Settings
from reviewer.evaluation import gate, metrics, report
from reviewer.evaluation.cases import EvalCase, load_cases
from reviewer.evaluation.realworld import CASE_SET_NAME, load_realworld_dev
from reviewer.evaluation.recordings import RecordingCompletion, RecordingStore, model_slug
from reviewer.evaluation.runner import RULES_MODEL, CaseOutcome, Mode, Runner

REPO_ROOT = Path(__file__).resolve().parents[2]
AUTO_BASELINE = "auto"  # --baseline auto: evals/baselines/<prompt>__<model>.json when it exists


DEFAULT_CONCURRENCY = 4


class EvalUsageError(ValueError):
    """Options that can't work together, or cases that can't be loaded: one line for the user."""


@dataclass
class EvalOptions:
    cases: str | None = None
    model: str | None = None
    prompt: str | None = None
    concurrency: int | None = None  # None: one at a time for the embedded model (it has one slot), else 4
    baseline: Path | None = None
    update_baseline: bool = False
    tolerances: Path | None = None
    out: Path | None = None
    mode: Mode = "live"
    recordings: Path | None = None
    progress: bool = True
    settings: Settings = field(default_factory=Settings)
    suggest_trust: bool = False
    only_recorded: bool = False
    allow_stale: bool = False


@dataclass
class EvalRun:
    report: dict[str, Any]
    paths: dict[str, Path]
    exit_code: int
    messages: list[str]


def evals_dir() -> Path:
    """``evals/`` of the repository being evaluated: the working directory's, else this checkout's."""
    local = Path.cwd() / "evals"
    return local if local.is_dir() else REPO_ROOT / "evals"


def load_case_set(spec: str | None) -> tuple[str, list[EvalCase]]:
    """``realworld-dev``, a YAML file or folder, or (default) ``evals/cases``."""
    from reviewer.evaluation.cases import CaseError

    try:
        if spec == CASE_SET_NAME:
            return CASE_SET_NAME, load_realworld_dev()
        path = Path(spec) if spec else evals_dir() / "cases"
        name = "golden" if path.resolve() == (evals_dir() / "cases").resolve() else path.stem
        return name, load_cases(path)
    except CaseError as exc:
        raise EvalUsageError(str(exc)) from exc


def baseline_name(case_set: str, model: str, prompt: str | None) -> str:
    """``<prompt>__<model>.json`` (``rules__rules`` for the rules engine), suffixed by a non-golden case set."""
    stem = f"{prompt or 'rules'}__{model_slug(model)}"
    return f"{stem}.json" if case_set == "golden" else f"{stem}__{case_set}.json"


def baseline_view(full: dict[str, Any]) -> dict[str, Any]:
    """What a baseline keeps: the run, the metrics and each case's outcome, but no draft or rewrite text."""
    keep = ("id", "passed", "failures", "verdict", "rules_verdict", "model_verdict", "rewrite_status")
    cases = []
    for case in full["cases"]:
        slim = {k: case[k] for k in keep if k in case}
        rewrite = case["rewrite"]
        slim["rewrite"] = {"state": rewrite["state"], "ok": all(a["ok"] for a in rewrite.get("assertions", []))}
        slim["criteria"] = {cid: {k: v for k, v in entry.items() if k in ("expected", "got", "rules", "model")}
                            for cid, entry in case["criteria"].items()}
        cases.append(slim)
    return {"run": full["run"], "metrics": full["metrics"], "cases": cases}


def dump_baseline(view: dict[str, Any]) -> str:
    """Readable in a diff: the run and metrics indented, one line per case."""
    head = json.dumps({"run": view["run"], "metrics": view["metrics"]}, indent=1, ensure_ascii=False)
    lines = ",\n".join(json.dumps(case, ensure_ascii=False) for case in view["cases"])
    return head[:-2] + ',\n "cases": [\n' + lines + "\n ]\n}\n"


def _prompt_hash(prompt: str) -> str:
    from reviewer import prompts

    try:
        return prompts.load(prompt).sha256
    except prompts.PromptError as exc:
        raise EvalUsageError(str(exc)) from exc


def default_concurrency(model: str, mode: Mode) -> int:
    """Cases reviewed at once when not told: 1 against the embedded model, 4 otherwise.

    The embedded server answers one request at a time, so more cases at once only queue there,
    and every queued review spends its deadline waiting (a recording then stores nothing).
    A replay calls no model, so it keeps the parallel default.
    """
    from reviewer import local

    return local.SLOTS if mode != "replay" and local.is_local(model) else DEFAULT_CONCURRENCY


async def run_eval(options: EvalOptions) -> EvalRun:
    case_set, cases = load_case_set(options.cases)
    if not cases:
        raise EvalUsageError("no cases to run")
    settings = options.settings.with_overrides(prompt=options.prompt)
    if options.model not in (None, RULES_MODEL):
        settings = settings.with_overrides(model=options.model, rules_only=False)
    planned = engine.Plan(None, None) if options.model == RULES_MODEL else engine.plan(settings)
    model = planned.model or RULES_MODEL
    llm = planned.model is not None
    if not llm and options.mode != "live":
        raise EvalUsageError("--record/--replay need a model (the rules engine has nothing to record)")
    if (options.only_recorded or options.allow_stale) and options.mode != "replay":
        raise EvalUsageError("--only-recorded and --allow-stale go with --replay")
    if options.suggest_trust and not llm:
        raise EvalUsageError("--suggest-trust needs a model run (the rules alone have nothing to trust)")
    prompt = planned.prompt
    prompt_hash = _prompt_hash(prompt) if prompt else None
    recorder = None
    if llm:
        settings = settings.with_overrides(model=model, rules_only=False)
        if options.mode == "replay":  # the route it was recorded under, and the prompt the engine chose then
            settings = _without_local_runtime(settings).with_overrides(prompt=prompt)
            planned = engine.plan(settings)
    if options.mode != "live":
        store = RecordingStore(options.recordings or evals_dir() / "recordings")
        for name in {model, settings.model or model, *settings.fallback_models}:
            store.load_model(name)
        inner = None
        if options.mode == "record":
            from reviewer import litellm_quiet

            inner = litellm_quiet.load().acompletion
        assert prompt is not None and prompt_hash is not None
        recorder = RecordingCompletion(store, options.mode, prompt, prompt_hash, inner,
                                       allow_stale=options.allow_stale)
        if options.only_recorded:
            cases = _recorded_cases(cases, store, prompt, prompt_hash, len(cases))

    concurrency = options.concurrency or default_concurrency(model, options.mode)

    # The baseline and tolerances are checked before a (possibly long) run, not after it.
    notes: list[str] = []
    tolerances = None
    if options.baseline is not None and str(options.baseline) == AUTO_BASELINE:
        options.baseline = evals_dir() / "baselines" / baseline_name(case_set, model, prompt)
        if not options.baseline.is_file() and not options.update_baseline:
            notes.append(f"no accepted baseline at {options.baseline}; reported without a gate")
            options.baseline = None
    if options.baseline is not None and not options.update_baseline:
        if not options.baseline.is_file():
            raise EvalUsageError(f"baseline {options.baseline} not found (create it with --update-baseline)")
        try:
            tolerances = gate.load_tolerances(options.tolerances or evals_dir() / "tolerances.yaml")
        except (OSError, ValueError, yaml.YAMLError) as exc:  # pydantic's ValidationError is a ValueError
            raise EvalUsageError(f"tolerances: {exc}".splitlines()[0]) from exc

    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    started = time.perf_counter()
    outcomes = await _run_with_progress(
        Runner(model, settings, concurrency, options.mode, recorder), cases, options.progress)
    duration = time.perf_counter() - started

    results = [metrics.score_case(outcome, llm) for outcome in outcomes]
    trust_choice = planned.trust
    full: dict[str, Any] = {
        "report_version": 1,
        "run": {
            "case_set": case_set, "cases": options.cases or "evals/cases", "model": model, "prompt": prompt,
            "prompt_hash": prompt_hash, "mode": options.mode if llm else "rules",
            "rules_version": rules.RULES_VERSION, "concurrency": concurrency,
            "started_at": started_at, "duration_s": round(duration, 3),
        },
        "metrics": metrics.summarize(results, llm),
        "cases": results,
    }
    if options.only_recorded:
        full["run"]["subset"] = f"only the {len(cases)} cases with recorded responses for this prompt"
    if trust_choice is not None:
        full["run"]["trust"] = {"profile": trust_choice.name, "reason": trust_choice.reason,
                                "criteria": trust_choice.profile.levels()}
    messages: list[str] = list(notes)
    exit_code = 0
    if recorder is not None:
        if recorder.stale:
            full["run"]["replay_stale"] = len(recorder.stale)
            messages.append(f"{len(recorder.stale)} recorded responses replayed for requests that changed since "
                            "recording (same case and prompt; the rules' findings in the request moved)")
        if recorder.misses:
            unique = sorted(set(recorder.misses))
            full["run"]["replay_misses"] = unique
            messages += [f"replay miss: {m}" for m in unique[:5]]
            if len(unique) > 5:
                messages.append(f"... and {len(unique) - 5} more replay misses (see report.json)")
            exit_code = 1
        if options.mode == "record":
            recorder.store.drop_stale(recorder.prompt, recorder.prompt_hash)
            messages += [f"recorded responses: {p}" for p in recorder.store.save()]
    if options.baseline is not None and tolerances is not None:
        try:
            baseline = json.loads(options.baseline.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EvalUsageError(f"baseline {options.baseline}: not a report ({exc})") from exc
        full["gate"] = gate.compare_to_baseline(full, baseline, tolerances)
        if not full["gate"]["passed"]:
            exit_code = 1
            messages.append("gate FAILED: " + _gate_reasons(full["gate"]))
        else:
            messages.append(f"gate passed against {options.baseline}")
    out = options.out or evals_dir() / "runs" / f"{case_set}__{model_slug(model)}"
    paths = report.write_reports(full, out)
    if options.suggest_trust:
        paths["trust"] = _write_trust_suggestion(full, out)
        messages.append(f"suggested trust profile: {paths['trust']} (review it, then copy it to evals/trust/)")
    if options.update_baseline:
        target = options.baseline or evals_dir() / "baselines" / baseline_name(case_set, model, prompt)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dump_baseline(baseline_view(full)), encoding="utf-8")
        paths["baseline"] = target
        messages.append(f"baseline written: {target}")
    return EvalRun(full, paths, exit_code, messages)


def _without_local_runtime(settings: Settings) -> Settings:
    """For replay, name the embedded model by the route it was recorded under, so replay never loads it.

    A ``local/<name>`` model is served as ``openai/<name>`` on a 127.0.0.1 port; the recordings
    hold that name. The API base below is never contacted: every completion is served from disk.
    """
    from reviewer import local

    names = [settings.model or "", *settings.fallback_models]
    if not any(local.is_local(name) for name in names):
        return settings
    unrouted = [local.route_name(name) for name in names]
    # The local server constrains output with a JSON schema; the replayed requests must be built the same way.
    json_schema = settings.json_schema if settings.json_schema is not None else local.is_local(names[0]) or None
    return settings.with_overrides(model=unrouted[0], fallback_models=unrouted[1:],
                                   api_base="http://127.0.0.1:9/v1", api_key=local.API_KEY, json_schema=json_schema)


def _recorded_cases(cases: list[EvalCase], store: RecordingStore, prompt: str, prompt_hash: str,
                    total: int) -> list[EvalCase]:
    """The cases with a response recorded under this exact prompt (a partial recording, replayed honestly)."""
    recorded = {e.get("case") for e in store.entries.values()
                if e.get("prompt") == prompt and e.get("prompt_hash") == prompt_hash}
    subset = [case for case in cases if case.id in recorded]
    if not subset:
        other = sorted({str(e.get("prompt_hash"))[:12] for e in store.entries.values() if e.get("prompt") == prompt})
        changed = f" (recorded under hash {', '.join(other)}: the prompt changed)" if other else ""
        raise EvalUsageError(f"no case of the {total} has a response recorded for prompt {prompt} "
                             f"hash {prompt_hash[:12]}{changed}; record them with --record")
    return subset


def _write_trust_suggestion(full: dict[str, Any], out: Path) -> Path:
    from reviewer import local, trust
    from reviewer.evaluation import trust_suggest

    try:
        profile = trust_suggest.suggest(full)
    except trust.TrustError as exc:
        raise EvalUsageError(str(exc)) from exc
    if local.is_local(profile.model):  # replayed and served under its route name: the same model
        profile.aliases = [local.route_name(profile.model)]
    path = out / f"trust__{model_slug(full['run']['model'])}.yaml"
    path.write_text(trust_suggest.dump_profile(profile), encoding="utf-8")
    return path


def _gate_reasons(result: dict[str, Any]) -> str:
    parts = [f"{d['metric']} {report.fmt(d['baseline'])} -> {report.fmt(d['current'])}" for d in result["metric_drops"]]
    parts += [f"case {r['id']} now fails ({'; '.join(r['failures'])})" for r in result["case_regressions"]]
    return "; ".join(parts)


async def _run_with_progress(runner: Runner, cases: list[EvalCase], show: bool) -> list[CaseOutcome]:
    if not show:
        return await runner.run(cases)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(TextColumn("[bold]eval[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(runner.model, total=len(cases))
        runner.on_done = lambda _outcome: progress.advance(task)
        return await runner.run(cases)


def run_eval_sync(options: EvalOptions) -> EvalRun:
    return asyncio.run(run_eval(options))
