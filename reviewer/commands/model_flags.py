"""The model flags that the commands share, and the argparse types they use, in one place.

Import-light on purpose (argparse only): command modules' ``add_parser`` runs on every CLI start.
"""

from __future__ import annotations

import argparse


def positive_int(value: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value!r}")
    return number


def positive_float(value: str) -> float:
    """argparse type: a number greater than 0."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {value!r}")
    return number


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
