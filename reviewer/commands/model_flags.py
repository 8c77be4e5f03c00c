"""The model flags that the commands share, the argparse types they use, and how flags become ``Settings``.

Import-light on purpose (argparse only at import): command modules' ``add_arguments`` runs on every CLI start.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from reviewer.cli import UsageError

if TYPE_CHECKING:
    from reviewer.config import Settings

N = TypeVar("N", int, float)


def _number(kind: Callable[[str], N], value: str, noun: str, fits: Callable[[N], bool], rule: str) -> N:
    """``value`` read by ``kind`` and checked by ``fits``; else argparse's error, naming what was expected."""
    try:
        number = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {noun}: {value!r}") from None
    if not fits(number):
        raise argparse.ArgumentTypeError(f"{rule}: {value!r}")
    return number


def positive_int(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    return _number(int, value, "a whole number", lambda n: n >= 1, "must be at least 1")


def positive_float(value: str) -> float:
    """argparse type: a number greater than 0."""
    return _number(float, value, "a number", lambda n: n > 0, "must be greater than 0")


def port(value: str) -> int:
    """argparse type: a TCP port."""
    return _number(int, value, "a port number", lambda n: 1 <= n <= 65535, "port must be 1-65535")


def seconds_up_to_300(value: str) -> float:
    """argparse type: a time in seconds, more than 0 and at most 5 minutes."""
    return _number(float, value, "a number", lambda n: 0 < n <= 300, "must be more than 0 and at most 300")


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    """--model, --api-base, --api-key, --fallback-models, --timeout, --deadline, --prompt, --rules-only (None when
    not given)."""
    model = parser.add_argument_group("model (the LLM review; environment: REVIEWER_*)")
    model.add_argument("--model", help="any litellm model string, e.g. openai/gpt-4o-mini")
    model.add_argument("--api-base", help="base URL of the model's API")
    model.add_argument("--api-key", help="API key for the model (prefer REVIEWER_API_KEY)")
    model.add_argument("--fallback-models", metavar="M1,M2", help="comma-separated models tried in order on failure")
    model.add_argument("--timeout", type=positive_float, metavar="SECONDS", help="timeout of one model call")
    model.add_argument("--deadline", type=positive_float, metavar="SECONDS",
                       help="time allowed for all model calls of one review (default 120); past it, the repair stands")
    model.add_argument("--prompt", metavar="ID@VERSION", help="prompt version, e.g. review@v1")
    model.add_argument("--rules-only", action="store_true", default=None, help="never call a model")
    model.add_argument(
        "--judge", metavar="PATH",
        help="learned judge: a file from `reviewer train`, 'default' (the shipped one, CC BY-NC-SA) or 'none'",
    )


# Each ``Settings`` field a flag can set, and the flag's argparse ``dest`` (the flag is ``--dest`` with dashes).
FLAG_DESTS = {
    "model": "model",
    "api_base": "api_base",
    "api_key": "api_key",
    "fallback_models": "fallback_models",  # "a,b": the settings model splits it, as it does REVIEWER_FALLBACK_MODELS
    "timeout_s": "timeout",
    "deadline_s": "deadline",
    "server": "server",
    "prompt": "prompt",
    "rules_only": "rules_only",
    "judge": "judge",
    "fail_on": "fail_on",
    "max_concurrency": "max_concurrency",
    "queue_limit": "queue_limit",
    "drain_s": "drain_seconds",
    "db": "db",
    "insecure_no_auth": "insecure_no_auth",
}


def flag_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags by any command (None = not given), by their ``Settings`` field names."""
    values = {field: getattr(args, dest, None) for field, dest in FLAG_DESTS.items()}
    values["insecure_no_auth"] = values["insecure_no_auth"] or None  # a store_true flag: False = not given
    return values


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the config file and the environment, with the command-line flags winning (all validated)."""
    from reviewer.config import SettingsProblem, load_settings

    try:
        return load_settings(**flag_settings(args))
    except SettingsProblem as exc:
        if exc.flag is not None:
            raise UsageError(f"--{FLAG_DESTS[exc.flag].replace('_', '-')}: {exc.reason}") from None
        raise UsageError(str(exc)) from None


def export_flags(args: argparse.Namespace, environ: MutableMapping[str, str]) -> None:
    """Write the flags that were given into ``environ`` as ``REVIEWER_<FIELD>`` variables (for worker processes)."""
    for name, value in flag_settings(args).items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        environ[f"REVIEWER_{name.upper()}"] = str(value)
