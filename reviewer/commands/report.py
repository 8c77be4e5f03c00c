"""``reviewer report OUT -o report.html``: a batch output as a scorecard, one self-contained HTML file.

Only argparse-level imports at the top (``add_parser`` runs on every CLI start).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reviewer.cli import UsageError

HELP = "a scorecard (HTML) from a `reviewer batch` output"
DESCRIPTION = (
    "Verdicts over time, per agent and team, the criteria each agent fails most, the most "
    "frequent findings and the replies to coach on: one HTML file with inline SVG charts, no network."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("batch_output", metavar="OUT",
                        help="the output of reviewer batch (.jsonl, or a .parquet folder)")
    parser.add_argument("-o", "--output", required=True, metavar="REPORT.html", help="where to write the report")
    parser.add_argument("--title", default="Reply quality scorecard", help="the report's title")


def run(args: argparse.Namespace) -> int:
    from reviewer.batch import report_html, scorecard, store
    from reviewer.batch.read import InputError

    source = Path(args.batch_output)
    if not source.exists():
        raise UsageError(f"{source}: no such file or folder")
    try:
        card = scorecard.build(store.records(source))
    except InputError as exc:
        raise UsageError(str(exc)) from None
    except (KeyError, TypeError) as exc:
        raise UsageError(f"{source}: not a reviewer batch output (missing {exc})") from None
    if card.total == 0:
        raise UsageError(f"{source}: no reviewed rows")
    target = Path(args.output)
    try:
        target.write_text(report_html.render(card, args.title), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{target}: cannot write ({exc.strerror or exc})") from None
    print(f"reviewer: wrote {target} ({card.total:,} replies)", file=sys.stderr)
    return 0
