"""``reviewer serve``: the HTTP JSON service on uvicorn.

Flags are turned into ``REVIEWER_*`` environment variables, so one worker or
several read the very same settings (``reviewer.service.app:app_from_env``).
Without API keys the service is open, so it listens on loopback only unless
``--insecure-no-auth`` says otherwise. FastAPI and uvicorn are imported in
``run`` only.
"""

from __future__ import annotations

import argparse
import math
import os

from reviewer.cli import UsageError
from reviewer.commands.model_flags import (
    add_model_flags,
    export_flags,
    port,
    positive_int,
    seconds_up_to_300,
    settings_from_args,
)

APP_FACTORY = "reviewer.service.app:app_from_env"
HTTP_PROTOCOL = "reviewer.service.protocol:GuardedHttpToolsProtocol"  # httptools with head/time limits

HELP = "run the HTTP JSON service"
DESCRIPTION = "Run the HTTP JSON service. API keys come from REVIEWER_API_KEYS (comma-separated)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=port, default=8080, help="port (default: 8080)")
    parser.add_argument("--workers", type=positive_int, default=1, help="worker processes (default: 1)")
    parser.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow listening on a non-loopback interface without API keys (anyone who can reach it can use it)",
    )
    parser.add_argument("--max-concurrency", type=positive_int,
                        help="model-backed reviews running at once (default 4; 1 with the embedded local model, "
                        "which answers one request at a time)")
    parser.add_argument("--queue-limit", type=int, help="model-backed reviews waiting before 503")
    parser.add_argument("--drain-seconds", type=seconds_up_to_300,
                        help="on SIGTERM: waiting reviews get 503 at once, running ones get this long to finish "
                        "(default 8; keep it under your orchestrator's grace period)")
    parser.add_argument("--db", metavar="FILE",
                        help="SQLite file for reviews and agents' feedback (REVIEWER_DB); unset = no feedback")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    add_model_flags(parser)


def run(args: argparse.Namespace) -> int:
    import logging
    import logging.config


    settings = settings_from_args(args)
    export_flags(args, os.environ)  # the workers (processes of their own) build the same settings from it

    if settings.db is not None:
        from reviewer.feedback.store import FeedbackStore, StoreError

        try:
            FeedbackStore(settings.db).close()  # created and migrated now, so a bad path is one line, not a traceback
        except StoreError as exc:
            raise UsageError(str(exc)) from None

    from reviewer.service.auth import is_loopback

    if not settings.api_keys and not is_loopback(args.host) and not args.insecure_no_auth:
        raise UsageError(
            f"refusing to listen on {args.host} without API keys: set REVIEWER_API_KEYS, "
            "or pass --insecure-no-auth to serve it open"
        )

    import uvicorn

    from reviewer.service.logs import log_config

    config = log_config(args.log_level)
    logging.config.dictConfig(config)
    # (without keys, the app factory logs that authentication is off, once per worker)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=config,
        access_log=False,
        server_header=False,
        http=HTTP_PROTOCOL,
        timeout_graceful_shutdown=math.ceil(settings.drain_s),  # the app gives up running work before
        # The standard asyncio loop, even when uvloop is installed: under overload uvloop runs the keep-alive
        # timer before reading the next request, closing busy keep-alive connections (measured in the bench).
        loop="asyncio",
    )
    return 0
