"""``reviewer prompts list|show ID@VERSION|diff A B|lock``: the versioned prompt files."""

from __future__ import annotations

import argparse
import difflib
import json
import sys

HELP = "list, show, diff or lock the versioned prompts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="every prompt version with its hash and lock status")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    show = actions.add_parser("show", help="print one prompt file")
    show.add_argument("ref", metavar="ID@VERSION")
    diff = actions.add_parser("diff", help="unified diff between two prompt versions")
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    actions.add_parser("lock", help="record the hash of new prompt versions in prompts/LOCK")
    parser.set_defaults(action=None)


def run(args: argparse.Namespace) -> int:
    from reviewer import prompts
    from reviewer.cli import UsageError

    try:
        if args.action in (None, "list"):
            lock = prompts.read_lock()
            rows = [
                {"ref": p.ref, "sha256": p.sha256, "lock": prompts.lock_status(p, lock), "description": p.description}
                for p in prompts.available()
            ]
            if getattr(args, "json", False):
                print(json.dumps(rows, indent=2))
            else:
                for row in rows:
                    print(f"{row['ref']:<20} {row['sha256'][:12]}  {row['lock']:<8} {row['description']}")
            return 1 if any(row["lock"] == "CHANGED" for row in rows) else 0
        if args.action == "show":
            prompt = prompts.load(args.ref)
            sys.stdout.write(prompt.text)
            return 0
        if args.action == "diff":
            a, b = prompts.load(args.a), prompts.load(args.b)
            sys.stdout.writelines(
                difflib.unified_diff(
                    a.text.splitlines(keepends=True), b.text.splitlines(keepends=True), fromfile=a.ref, tofile=b.ref
                )
            )
            return 0
        if args.action == "lock":
            added = prompts.lock_new_versions()
            print("locked: " + (", ".join(added) if added else "nothing new"))
            return 0
    except prompts.PromptError as exc:
        raise UsageError(str(exc)) from exc
    raise UsageError(f"unknown action {args.action!r}")
