"""Structured logs: one JSON object per line, for the service's own records and uvicorn's.

Access records carry ids, route, status, latency, verdict and whether the review
was degraded, never the draft or the customer's message unless
``REVIEWER_LOG_CONTENT=1`` (then under ``content``).
"""

from __future__ import annotations

import atexit
import copy
import json
import logging
import queue
import sys
import time
from logging.handlers import QueueHandler, QueueListener
from typing import Any

ACCESS_LOGGER = "reviewer.access"
SERVICE_LOGGER = "reviewer.service"

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged as a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}


_PLAIN = (str, int, float, bool, type(None), list, dict)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message and the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            # Plain data only: libraries (litellm) attach marker objects to every record.
            if key not in _STANDARD and not key.startswith("_") and isinstance(value, _PLAIN):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: messages and tracebacks of validation errors can quote customer text.
            entry["exc_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


class _TracebackFreeQueueHandler(QueueHandler):
    """Queues a copy of the record with its message resolved and any exception reduced to its type name.

    (The stock ``prepare`` renders the traceback into the message; tracebacks can quote customer text.)
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        prepared = copy.copy(record)
        prepared.msg = record.getMessage()
        prepared.args = None
        if record.exc_info and record.exc_info[0] is not None and not hasattr(record, "exc_type"):
            prepared.exc_type = record.exc_info[0].__name__
        prepared.exc_info = None
        prepared.exc_text = None
        prepared.stack_info = None
        return prepared


def queued_stderr_handler() -> logging.Handler:
    """A handler that only queues records; a thread formats and writes them to stderr.

    So a slow reader of stderr (a full pipe) never blocks the event loop. The queue is
    drained at exit.
    """
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(JsonFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(records, stream, respect_handler_level=False)
    listener.start()
    atexit.register(listener.stop)
    return _TracebackFreeQueueHandler(records)


def log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn and the service: JSON lines on stderr."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"()": queued_stderr_handler}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "reviewer": {"handlers": ["stderr"], "level": upper, "propagate": False},
            # litellm logs request details at debug/info level: keep only its warnings and errors.
            "LiteLLM": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "LiteLLM Router": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "LiteLLM Proxy": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "httpx": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }
