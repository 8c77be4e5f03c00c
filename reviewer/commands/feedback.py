"""``reviewer feedback export``: agents' rejected and edited rewrites as eval cases or training labels.

Reads the database the service wrote (``--db`` or ``REVIEWER_DB``); see ``reviewer.feedback.export``
for what each action becomes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reviewer.cli import UsageError

HELP = "export agents' feedback as eval cases or training labels"
DESCRIPTION = "Agents' feedback stored by `reviewer serve` (REVIEWER_DB)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="rejected and edited rewrites as eval cases (YAML) or training labels (JSONL)",
        description="Rejected rewrites become 'not send' examples, edited texts 'send' examples.",
    )
    export.add_argument("--as", dest="kind", choices=["cases", "labels"], required=True)
    export.add_argument("--db", type=Path, help="the feedback database (default: REVIEWER_DB)")
    export.add_argument("-o", "--out", type=Path, help="where to write the cases or labels (default: stdout)")
    export.add_argument("--texts", type=Path, help="with --as labels: where to write the texts ({id, customer, reply})")


def _write(path: Path | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    from reviewer.feedback import export
    from reviewer.feedback.store import FeedbackStore, StoreError

    db = args.db or (Path(os.environ["REVIEWER_DB"]) if os.environ.get("REVIEWER_DB") else None)
    if db is None:
        raise UsageError("no feedback database: pass --db PATH or set REVIEWER_DB")
    if not db.is_file():
        raise UsageError(f"{db}: no such database")
    if args.kind == "labels" and args.texts is None:
        raise UsageError("--as labels needs --texts FILE for the texts the labels are about")
    try:
        store = FeedbackStore(db)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    try:
        items, skipped = export.judged(store.feedback(("rejected", "edited")))
    finally:
        store.close()
    if args.kind == "cases":
        _write(args.out, export.as_cases(items))
    else:
        labels, texts = export.as_labels(items)
        _write(args.out, labels)
        _write(args.texts, texts)
    for reason in skipped:
        print(f"skipped {reason}", file=sys.stderr)
    print(f"exported {len(items)} {args.kind} from {db}", file=sys.stderr)
    return 0
