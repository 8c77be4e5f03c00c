"""``reviewer config``: the effective settings and where each came from.

Precedence: flags > ``REVIEWER_*`` environment > config file (``reviewer.toml`` or
``[tool.reviewer]`` in ``pyproject.toml``, found upward from the working directory) >
defaults. Takes the same model flags as ``reviewer check``, so a flag's effect shows too.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from reviewer.cli import UsageError
from reviewer.commands.check import FAIL_ON
from reviewer.commands.model_flags import add_model_flags

HELP = "show the effective settings and where each came from"
DESCRIPTION = "Show the effective settings: flags > REVIEWER_* environment > config file > defaults."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON: {file, settings: {name: {value, source}}}")
    parser.add_argument("--fail-on", choices=FAIL_ON, help="as for reviewer check")
    add_model_flags(parser)


def _shown(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def run(args: argparse.Namespace) -> int:
    from reviewer.commands.model_flags import flag_settings, settings_from_args
    from reviewer.config import ConfigFileError, explain, find_config_file

    settings = settings_from_args(args)
    try:
        config = find_config_file()
        origins = explain(settings, flag_settings(args))
    except ConfigFileError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        document = {
            "file": config.label if config else None,
            "settings": {o.name: {"value": o.value, "source": o.source} for o in origins},
        }
        print(json.dumps(document, indent=2, default=str))
        return 0
    where = config.label if config else "none found (reviewer.toml or [tool.reviewer] in pyproject.toml)"
    print(f"# config file: {where}")
    width = max(len(o.name) for o in origins)
    for origin in origins:
        print(f"{origin.name:<{width}} = {_shown(origin.value):<32} # {origin.source}")
    return 0
