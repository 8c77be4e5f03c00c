"""``reviewer train LABELS.jsonl --texts TEXTS.jsonl -o judge.bin``: a learned judge from a team's own labels.

The same code (:mod:`reviewer.judge.train`) built the shipped default judge (the command is in the
README, "The learned judge"). Needs scikit-learn: ``pip install 'reviewer[train]'``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

HELP = "train a learned judge from labelled replies"
DESCRIPTION = (
    "Train the learned judge from labelled replies (JSONL: id, verdict, labels) and their texts "
    "(JSONL: id, reply, customer). Use the result with --judge PATH or REVIEWER_JUDGE=PATH."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "labels", type=Path, nargs="+", help="labels JSONL: {id, verdict, labels: {criterion: pass|fail|na}}"
    )
    parser.add_argument(
        "--texts", type=Path, action="append", required=True, help="texts JSONL: {id, reply, customer} (repeatable)"
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="where to write the judge file")
    parser.add_argument("--note", default="", help="a line stored in the file saying what it was trained on")


def run(args: argparse.Namespace) -> int:
    from reviewer.cli import UsageError
    from reviewer.judge import train

    folder = args.output.expanduser().resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):  # say so now, not after minutes of training
        raise UsageError(f"{args.output}: cannot write there ({folder} is not a writable folder)")
    try:
        examples = train.load_examples(args.labels, args.texts)
        judge_file = train.fit(examples, note=args.note)
    except train.TrainingError as exc:
        raise UsageError(str(exc)) from None
    except ModuleNotFoundError as exc:  # scikit-learn / scipy missing
        raise UsageError(f"training needs the [train] extra: pip install 'reviewer[train]' ({exc.name} missing)") \
            from None
    try:
        judge_file.dump(args.output)
    except OSError as exc:
        raise UsageError(f"{args.output}: cannot write: {exc.strerror or exc}") from None
    cv = judge_file.meta["cross_validation"]
    summary = {
        "output": str(args.output),
        "examples": len(examples),
        "decides": judge_file.meta["decides"],
        "verdict_threshold": judge_file.meta["verdict_threshold"],
        "cross_validated_verdict_agreement": cv["verdict"],
    }
    print(json.dumps(summary, indent=2))
    return 0
