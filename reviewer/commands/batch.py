"""``reviewer batch INPUT... -o OUT``: review every reply of help-desk exports, resumably, on every core.

Only argparse-level imports at the top (``add_parser`` runs on every CLI start).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from reviewer.cli import UsageError
from reviewer.commands.model_flags import add_model_flags, positive_int

INPUT_FORMATS = ("jsonl", "csv", "parquet")
OUTPUT_FORMATS = ("jsonl", "parquet")
FIELDS = ("draft", "customer", "id", "agent", "team", "channel", "timestamp")
VERDICTS = ("send", "revise", "block")



def _verdicts(value: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = chosen - set(VERDICTS)
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"a comma-separated list of {', '.join(VERDICTS)}: {value!r}")
    return chosen


HELP = "review every reply of JSONL/CSV/Parquet exports into a JSONL or Parquet output (resumable)"
DESCRIPTION = (
    "Review every row of help-desk exports with the rules (and optionally a model on a budget). "
    "A rerun skips the ids already in OUT."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="JSONL, CSV or Parquet files")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="OUT.jsonl, or OUT.parquet (a folder)")
    parser.add_argument("--input-format", choices=INPUT_FORMATS, help="default: from each input's extension")
    parser.add_argument("--output-format", choices=OUTPUT_FORMATS, help="default: from OUT's extension")
    columns = parser.add_argument_group("columns (default: the usual names of help-desk exports, any case)")
    for name in FIELDS:
        columns.add_argument(f"--{name}-column", metavar="NAME", help=f"the {name} column (a.b for nested JSON)")
    parser.add_argument(
        "--workers", type=positive_int, default=os.cpu_count() or 1, help="processes (default: every core)"
    )
    parser.add_argument("--chunk-size", type=positive_int, default=256, help="rows per chunk (default: 256)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: a process pool (default); ray: Ray Data, on RAY_ADDRESS or a local instance with --workers CPUs "
        "(needs reviewer[cluster]; OUT is a folder; no resume)",
    )
    budget = parser.add_argument_group("model on a budget (only some rows go to the LLM reviewer)")
    which = budget.add_mutually_exclusive_group()
    which.add_argument("--model-sample", type=positive_int, metavar="N", help="a fixed sample of N rows")
    which.add_argument(
        "--model-when", type=_verdicts, metavar="V1,V2", help="the rows the rules mark e.g. revise,block"
    )
    budget.add_argument("--model-concurrency", type=positive_int, default=4, help="model reviews at once (default: 4)")
    add_model_flags(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from reviewer.batch import read, store
    from reviewer.batch import run as batch

    try:
        sources = [batch.Source(Path(p), read.format_of(Path(p), args.input_format)) for p in args.inputs]
        for source in sources:
            read.check_readable(source.path, source.fmt)
        output = Path(args.output)
        output_format = store.output_format(output, args.output_format)
        if output_format == "parquet":
            read.require_pyarrow(f"{output}: Parquet output")
        if any(source.path.resolve() == output.resolve() for source in sources):
            raise UsageError(f"{output}: the output cannot be one of the inputs")
        if args.engine == "ray":
            return _run_on_ray(args, sources, output, output_format)
        plan = _model_plan(args)
        options = batch.Options(
            sources=sources,
            output=output,
            output_format=output_format,
            columns={name: getattr(args, f"{name}_column") for name in FIELDS},
            workers=args.workers,
            chunk_size=args.chunk_size,
            progress=not args.no_progress,
            model=plan,
            judge=_judge(args),
        )
        console = Console(stderr=True)
        summary = batch.run(options, console)
    except read.InputError as exc:
        raise UsageError(str(exc)) from None
    for line in summary.lines():
        print(f"reviewer: {line}", file=sys.stderr)
    return 1 if summary.bad else 0


def _run_on_ray(args: argparse.Namespace, sources: list[Any], output: Path, output_format: str) -> int:
    from reviewer.batch import ray_engine

    if args.model_sample is not None or args.model_when is not None or args.model is not None:
        raise UsageError("--engine ray runs the rules review only; the model on a budget runs with --engine local")
    if any(source.fmt == "csv" for source in sources) or len({source.fmt for source in sources}) > 1:
        raise UsageError("--engine ray reads JSONL or Parquet inputs, all of one format")
    options = ray_engine.RayOptions(
        inputs=[source.path for source in sources],
        output=output,
        output_format=output_format,
        columns={name: getattr(args, f"{name}_column") for name in FIELDS},
        num_cpus=args.workers,
        progress=not args.no_progress,
        judge=_judge(args),
    )
    import time

    started = time.perf_counter()
    result = ray_engine.run(options)
    seconds = time.perf_counter() - started
    for problem in result.bad:
        print(f"reviewer: bad row: {problem}", file=sys.stderr)
    print(f"reviewer: rows: {result.reviewed:,} reviewed, {len(result.bad):,} bad (skipped), on Ray", file=sys.stderr)
    print(
        f"reviewer: time: {seconds:,.1f} s (with Ray's start), {result.reviewed / seconds:,.0f} rows/s", file=sys.stderr
    )
    return 1 if result.bad else 0


def _judge(args: argparse.Namespace) -> str | None:
    """The learned judge as ``reviewer check`` picks it: --judge, else the config file or REVIEWER_JUDGE."""
    from reviewer.commands.model_flags import settings_from_args

    judge: str | None = settings_from_args(args).judge
    return judge


def _model_plan(args: argparse.Namespace) -> Any:
    """The model-on-a-budget plan, or None when no row goes to a model."""
    wants_model = args.model_sample is not None or args.model_when is not None
    if not wants_model:
        if args.model is not None:
            raise UsageError("--model in a batch needs --model-sample N or --model-when revise,block")
        return None
    from reviewer import engine
    from reviewer.batch.budget import ModelPlan
    from reviewer.commands.model_flags import settings_from_args

    settings = settings_from_args(args)
    planned = engine.plan(settings)
    if planned.model is None or planned.prompt is None:
        raise UsageError("--model-sample/--model-when need a model: --model M (or REVIEWER_MODEL)")
    return ModelPlan(
        settings=settings,
        model=planned.model,
        prompt=planned.prompt,
        sample=args.model_sample,
        when=args.model_when,
        concurrency=args.model_concurrency,
    )
