"""``reviewer eval``: score a model and prompt version on eval cases; ``reviewer eval compare A B``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HELP = "score the reviewer on golden cases (or realworld-dev) and gate against a baseline"
DESCRIPTION = (
    "Run eval cases through the reviewer and write report.json, report.md and junit.xml. "
    "`reviewer eval compare A.json B.json` prints two reports side by side."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="*", metavar="compare A.json B.json",
                        help="compare two report.json files instead of running")
    parser.add_argument("--cases", metavar="PATH|realworld-dev",
                        help="a case file or folder (default: evals/cases), or realworld-dev")
    parser.add_argument("--model", metavar="M|rules",
                        help="a litellm model string, or 'rules' for the rules engine alone "
                        "(default: the configured model, else rules)")
    parser.add_argument("--api-base", help="the model's API base URL (REVIEWER_API_BASE)")
    parser.add_argument("--prompt", metavar="ID@VERSION", help="prompt version (default: REVIEWER_PROMPT or review@v1)")
    parser.add_argument("--concurrency", type=int, metavar="N",
                        help="cases reviewed at once (default 4; 1 against the embedded local model, which "
                        "answers one request at a time)")
    parser.add_argument("--baseline", type=Path, metavar="FILE|auto",
                        help="accepted report to gate against; 'auto' = evals/baselines/<prompt>__<model>.json "
                        "when it exists")
    parser.add_argument("--update-baseline", action="store_true",
                        help="write this run as the baseline "
                        "(to --baseline, else evals/baselines/<prompt>__<model>.json)")
    parser.add_argument("--tolerances", type=Path, metavar="FILE",
                        help="gate tolerances (default: evals/tolerances.yaml)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="report folder (default: evals/runs/<cases>__<model>)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--record", action="store_true", help="call the model and store its responses")
    mode.add_argument("--replay", action="store_true", help="serve stored responses; no model is called")
    parser.add_argument("--only-recorded", action="store_true",
                        help="with --replay: run only the cases that have recorded responses (a partial recording)")
    parser.add_argument("--allow-stale", action="store_true",
                        help="with --replay: serve a case's recorded response when only the request's rules "
                        "findings changed since recording (counted in the report); a changed prompt still misses")
    parser.add_argument("--recordings", type=Path, metavar="DIR", help="recorded responses (default: evals/recordings)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--suggest-trust", action="store_true",
                        help="propose a trust profile for the model from this run (labelled cases, e.g. "
                        "realworld-dev); written beside the reports")


def run(args: argparse.Namespace) -> int:
    from reviewer.cli import UsageError

    if args.action:
        if args.action[0] != "compare" or len(args.action) != 3:
            raise UsageError("unexpected arguments: " + " ".join(args.action)
                             + " (did you mean: reviewer eval compare A.json B.json?)")
        return _compare(Path(args.action[1]), Path(args.action[2]))
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")


    from reviewer.commands.model_flags import settings_from_args
    from reviewer.evaluation.suite import EvalOptions, EvalUsageError, run_eval_sync

    settings = settings_from_args(args)  # --model and --prompt reach the run through the options too
    options = EvalOptions(
        cases=args.cases, model=args.model, prompt=args.prompt, concurrency=args.concurrency,
        baseline=args.baseline, update_baseline=args.update_baseline, tolerances=args.tolerances, out=args.out,
        mode="record" if args.record else "replay" if args.replay else "live",
        recordings=args.recordings, progress=not args.no_progress, settings=settings,
        suggest_trust=args.suggest_trust, only_recorded=args.only_recorded, allow_stale=args.allow_stale,
    )
    try:
        result = run_eval_sync(options)
    except EvalUsageError as exc:
        raise UsageError(str(exc)) from exc
    _print_summary(result.report, result.paths)
    for message in result.messages:
        print(message)
    return result.exit_code


def _print_summary(report: dict[str, Any], paths: dict[str, Path]) -> None:
    from rich.console import Console
    from rich.table import Table

    from reviewer.evaluation.report import fmt, title
    from reviewer.rubric import CRITERION_IDS

    m = report["metrics"]
    table = Table(title=title(report["run"]).replace("`", ""), show_header=True)
    for column in ("criterion", "precision", "recall", "F1", "agreement", "majority"):
        table.add_column(column, justify="left" if column == "criterion" else "right")
    for cid in CRITERION_IDS:
        c = m["criteria"][cid]
        table.add_row(cid, fmt(c["precision"]), fmt(c["recall"]), fmt(c["f1"]), fmt(c["agreement"]),
                      fmt(c["majority_agreement"]))
    console = Console(highlight=False)
    console.print(table)
    rw = m["rewrite"]
    console.print(
        f"cases passed {m['cases']['passed']}/{m['cases']['n']} · verdict accuracy {fmt(m['verdict']['accuracy'])} "
        f"(majority '{m['majority_verdict']['answer']}' {fmt(m['majority_verdict']['accuracy'])}) · "
        f"rewrites passed {rw['passed']}/{rw['checked']}, verified {rw['verified']}/{rw['returned']} · "
        f"latency p50 {fmt(m['latency_ms']['p50'], 1)} ms p95 {fmt(m['latency_ms']['p95'], 1)} ms · "
        f"tokens {m['usage']['total_tokens']} · cost {fmt(m['usage']['cost_usd'], 4)}"
    )
    console.print("reports: " + ", ".join(str(p) for p in paths.values()))


def _compare(path_a: Path, path_b: Path) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from reviewer.cli import UsageError
    from reviewer.evaluation.report import comparison_rows, title

    reports = []
    for path in (path_a, path_b):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data["metrics"]["cases"], dict):
                raise TypeError("metrics.cases is not an object")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise UsageError(f"{path}: not a report.json ({exc})") from exc
        reports.append(data)
    a, b = reports
    table = Table(show_header=True)
    table.add_column("metric")
    table.add_column(f"A: {title(a['run'])}".replace("`", ""), justify="right")
    table.add_column(f"B: {title(b['run'])}".replace("`", ""), justify="right")
    table.add_column("B − A", justify="right")
    for row in comparison_rows(a, b):
        table.add_row(*row)
    console = Console(highlight=False, width=140)
    console.print(table)
    cases_a = {c["id"]: c["passed"] for c in a.get("cases", [])}
    changed = [(c["id"], cases_a[c["id"]], c["passed"]) for c in b.get("cases", [])
               if c["id"] in cases_a and cases_a[c["id"]] != c["passed"]]
    for case_id, before, after in changed:
        console.print(f"{case_id}: {'pass' if before else 'fail'} -> {'pass' if after else 'fail'}")
    if not changed:
        console.print("no case changed between A and B")
    return 0
