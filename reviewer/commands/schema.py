"""``reviewer schema``: print the JSON Schema of the public contract."""

from __future__ import annotations

import argparse
import json

HELP = "print the JSON Schema of ReviewRequest and Review"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=["all", "ReviewRequest", "Review"], default="all")


def run(args: argparse.Namespace) -> int:
    from reviewer.models import Review, ReviewRequest

    schemas = {"ReviewRequest": ReviewRequest.model_json_schema(), "Review": Review.model_json_schema()}
    out = schemas if args.model == "all" else schemas[args.model]
    print(json.dumps(out, indent=2))
    return 0
