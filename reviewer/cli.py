"""The ``reviewer`` command line: a thin dispatcher over sub-command modules.

Each sub-command lives in ``reviewer/commands/<name>.py`` and exposes ``HELP`` (and
optionally ``DESCRIPTION``), ``add_arguments(parser)`` and ``run(args) -> int``; the
dispatcher builds the parser. Every module's ``add_arguments`` runs on each invocation,
so command modules import only argparse-level things at the top and everything heavy
inside ``run``: ``reviewer check`` never pays for FastAPI or litellm (``bench/cold_start.py``
measures it).

Exit codes: 0 ok, 1 a review reached ``--fail-on`` (or a command's own failure),
2 usage or input error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence

from reviewer import __version__

# name -> module, which defines HELP (and optionally DESCRIPTION), add_arguments(parser) and run(args).
# A module that does not exist yet is skipped (its command is not built).
COMMANDS: dict[str, str] = {
    "check": "reviewer.commands.check",
    "schema": "reviewer.commands.schema",
    "prompts": "reviewer.commands.prompts",
    "serve": "reviewer.commands.serve",
    "eval": "reviewer.commands.eval",
    "train": "reviewer.commands.train",
    "config": "reviewer.commands.config",
    "feedback": "reviewer.commands.feedback",
    "batch": "reviewer.commands.batch",
    "report": "reviewer.commands.report",
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reviewer", description="Review a support reply before it is sent.")
    parser.add_argument("--version", action="version", version=f"reviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not built yet
            raise
        command = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", None))
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def _tolerate_narrow_terminals() -> None:
    """On a non-UTF-8 stdout (``LANG=C``, ``PYTHONIOENCODING=ascii``) escape what it can't show, never crash."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if isinstance(stream, io.TextIOWrapper) and encoding not in ("utf8", "utf8sig"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _tolerate_narrow_terminals()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except UsageError as exc:
        print(f"reviewer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `reviewer check folder | head`: the reader left; stop quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as exc:  # a path the command could not read or write, e.g. an output folder that does not exist
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"reviewer: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
