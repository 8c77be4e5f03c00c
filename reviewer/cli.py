"""The ``reviewer`` command line: a thin dispatcher over sub-command modules.

Each sub-command lives in ``reviewer/commands/<name>.py`` and exposes
``add_parser(subparsers)`` and ``run(args) -> int``; modules are imported
lazily so ``reviewer check`` never pays for FastAPI or litellm.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Modules are imported only when that command runs,
# except that each module's add_parser is cheap (it must not import heavy libraries).
COMMANDS: dict[str, str] = {
    "check": "reviewer.commands.check",
    "schema": "reviewer.commands.schema",
    "prompts": "reviewer.commands.prompts",
    "serve": "reviewer.commands.serve",
    "eval": "reviewer.commands.eval",
}


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"reviewer: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reviewer", description="Review a support reply before it is sent.")
    parser.add_argument("--version", action="version", version="reviewer 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # command not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        code: int = args.handler(args)
    except UsageError as exc:
        print(f"reviewer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
