"""``reviewer schema``: print the JSON Schema of the public contract."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("schema", help="print the JSON Schema of ReviewRequest and Review")
    parser.add_argument("--model", choices=["all", "ReviewRequest", "Review"], default="all")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reviewer.models import Review, ReviewRequest

    schemas = {"ReviewRequest": ReviewRequest.model_json_schema(), "Review": Review.model_json_schema()}
    out = schemas if args.model == "all" else schemas[args.model]
    print(json.dumps(out, indent=2))
    return 0
