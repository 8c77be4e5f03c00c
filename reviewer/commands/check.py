"""``reviewer check``: review one draft, stdin, or files/folders of canned replies.

How an argument is read (documented in the README):

* ``-`` is standard input;
* an argument that exists on disk is a file, or a folder whose files (recursively,
  hidden ones skipped) are each reviewed;
* an argument that does not exist but *looks like a path* (no spaces, and a ``/``
  in it or a file extension such as ``.txt``) is a missing file: exit 2;
* anything else is the draft text itself; several such words are joined with spaces;
* ``--text`` / ``-t`` forces every argument to be text.

Only argparse is imported at module level: ``add_parser`` runs for every
``reviewer`` invocation and must stay light (see ``bench/cold_start.py``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reviewer.channels import CHANNELS
from reviewer.cli import UsageError
from reviewer.commands.model_flags import add_model_flags, settings_from_args

if TYPE_CHECKING:
    from reviewer.config import Settings
    from reviewer.models import Context, Review, ReviewRequest

FORMATS = ("text", "json", "lines", "sarif", "github")
FAIL_ON = ("block", "revise", "never")
# A draft may be 20,000 characters; a file this big cannot be one and is not read into memory.
MAX_FILE_BYTES = 1024 * 1024
TEXT_LABEL = "<text>"
STDIN_LABEL = "-"

_LOOKS_LIKE_PATH = re.compile(r"^[^\s]*[/\\][^\s]*$|^[^\s]+\.[A-Za-z0-9]{1,5}$")


@dataclass(frozen=True)
class Draft:
    """One draft to review and where it came from (``label`` is what output lines name it)."""

    label: str
    text: str


HELP = "review a draft reply (text, '-' for stdin, files or folders)"
DESCRIPTION = "Review a draft reply before it is sent. Without a model: the rules engine alone, offline."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="DRAFT|FILE|FOLDER|-",
        help="the draft text, '-' for stdin, or files/folders of drafts (an existing path is a file)",
    )
    parser.add_argument("-t", "--text", action="store_true", help="treat the arguments as draft text, never as paths")
    customer = parser.add_mutually_exclusive_group()
    customer.add_argument("--customer", metavar="TEXT", help="the customer's message the draft answers")
    customer.add_argument("--customer-file", metavar="FILE", help="read the customer's message from FILE ('-': stdin)")
    parser.add_argument("--channel", choices=CHANNELS, help="where the reply is sent")
    parser.add_argument("--company", help="the company the agent speaks for")
    parser.add_argument("--agent-name", help="the agent's name")
    parser.add_argument("--language", help="BCP 47 language tag of the conversation, e.g. en")
    parser.add_argument(
        "--allowed-remedy",
        action="append",
        default=[],
        metavar="REMEDY",
        help="a remedy the agent may offer, e.g. refund (repeatable); a rewrite promises nothing else",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument(
        "--server",
        metavar="URL",
        help="ask a running `reviewer serve` (e.g. http://127.0.0.1:8080) instead of loading a model here "
        "(environment: REVIEWER_SERVER, key REVIEWER_SERVER_KEY)",
    )
    parser.add_argument(
        "--rewrite",
        action="store_true",
        help="with --format json/lines, also wait for the model's rewrite (without it, and without --model, "
        "those formats review with the rules and the repair alone: instant)",
    )
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        help="exit 1 when a verdict reaches this level (default: block, or fail_on in the config file)",
    )
    add_model_flags(parser)


# --- reading the inputs ---------------------------------------------------------------------------


def _read_path(path: Path, label: str) -> str:
    """The UTF-8 text of a file, or a UsageError naming the file and what is wrong."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise UsageError(f"{label}: file is {size} bytes; a draft may be at most 20,000 characters")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file (to review it as draft text, use --text)") from None
    except PermissionError:
        raise UsageError(f"{label}: permission denied") from None
    except IsADirectoryError:
        raise UsageError(f"{label}: is a folder") from None
    except OSError as exc:
        raise UsageError(f"{label}: cannot read ({exc.strerror or exc})") from None
    return _decode(data, label)


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{label}: not UTF-8 text (invalid byte at offset {exc.start})") from None


def _read_stdin(label: str) -> str:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # replaced by a text stream (tests, embedding)
        return str(sys.stdin.read())
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{label}: input is over {MAX_FILE_BYTES} bytes; a draft may be at most 20,000 characters")
    return _decode(data, label)


def _folder_files(folder: Path) -> list[Path]:
    """Every non-hidden file under ``folder``, sorted, so output order is stable."""
    files = []
    for path in folder.rglob("*"):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        if path.is_file():
            files.append(path)
    return sorted(files)


def _is_path(arg: str) -> bool:
    return os.path.lexists(arg) or bool(_LOOKS_LIKE_PATH.match(arg))


def gather_drafts(inputs: list[str], force_text: bool) -> list[Draft]:
    """Turn the positional arguments into drafts, following the rule in this module's docstring."""
    if not inputs:
        raise UsageError("no draft given: pass the draft text, '-' for stdin, or files (see reviewer check --help)")
    if force_text:
        return [Draft(TEXT_LABEL, " ".join(inputs))]
    if inputs.count("-") > 1:
        raise UsageError("'-' (stdin) may be given only once")
    kinds = ["stdin" if arg == "-" else "path" if _is_path(arg) else "text" for arg in inputs]
    if all(kind == "text" for kind in kinds):
        return [Draft(TEXT_LABEL, " ".join(inputs))]
    if "text" in kinds:
        stray = inputs[kinds.index("text")]
        raise UsageError(
            f"{stray!r} is neither a file nor '-': quote the whole draft as one argument, or use --text"
        )
    drafts: list[Draft] = []
    for arg in inputs:
        if arg == "-":
            drafts.append(Draft(STDIN_LABEL, _read_stdin(STDIN_LABEL)))
            continue
        path = Path(arg)
        if path.is_dir():
            files = _folder_files(path)
            if not files:
                raise UsageError(f"{arg}: folder has no files")
            drafts.extend(Draft(str(file), _read_path(file, str(file))) for file in files)
        else:
            drafts.append(Draft(arg, _read_path(path, arg)))
    return drafts


def _customer_message(args: argparse.Namespace) -> tuple[str | None, str]:
    """The customer's message and the label its findings are reported under."""
    if args.customer is not None:
        return args.customer, "<customer>"
    if args.customer_file is None:
        return None, "<customer>"
    if args.customer_file == "-":
        if "-" in args.inputs and not args.text:
            raise UsageError("stdin cannot hold both the draft and the customer's message")
        return _read_stdin("--customer-file -"), "-"
    return _read_path(Path(args.customer_file), args.customer_file), args.customer_file


def _validation_message(exc: Exception) -> str:
    """One line from a pydantic ValidationError: 'field: problem'."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    first = errors()[0]
    message = str(first.get("msg", exc)).removeprefix("Value error, ")
    location = ".".join(str(part) for part in first.get("loc", ()))
    if location in ("draft", "customer_message"):
        return message
    return f"{location}: {message}" if location else message


def build_requests(args: argparse.Namespace) -> tuple[list[tuple[Draft, ReviewRequest]], str]:
    """Read and validate every input before reviewing any, so bad input never leaves partial output."""
    from pydantic import ValidationError

    from reviewer.models import Context

    drafts = gather_drafts(args.inputs, args.text)
    customer, customer_label = _customer_message(args)
    try:
        context = Context(
            company=args.company,
            agent_name=args.agent_name,
            channel=args.channel,
            allowed_remedies=args.allowed_remedy,
            language=args.language,
        )
    except ValidationError as exc:
        raise UsageError(f"context: {_validation_message(exc)}") from None
    requests: list[tuple[Draft, ReviewRequest]] = []
    for draft in drafts:
        requests.append((draft, _request(draft, customer, context)))
    return requests, customer_label


def _request(draft: Draft, customer: str | None, context: Context) -> ReviewRequest:
    from pydantic import ValidationError

    from reviewer.models import ReviewRequest

    try:
        return ReviewRequest(draft=draft.text, customer_message=customer, context=context)
    except ValidationError as exc:
        raise UsageError(f"{draft.label}: {_validation_message(exc)}") from None


# --- reviewing -------------------------------------------------------------------------------------


def review_all(
    requests: list[ReviewRequest],
    settings: Settings,
    model: str | None,
    labels: list[str] | None = None,
    *,
    rewrite: bool = True,
) -> list[Review]:
    """Rules only when no model resolves; otherwise the full review, all in one event loop.

    While the model loads and writes, a status line on stderr (when it is a terminal) says
    what is happening; the rules' verdict and the repair are ready before the model starts.
    ``rewrite=False`` (rules only): no repair is built, for outputs that never show one.
    """
    from reviewer import engine

    if model is None:
        return [engine.check(request, judge=settings.judge, rewrite=rewrite) for request in requests]

    import asyncio
    import contextlib

    from reviewer import local

    labels = labels or [TEXT_LABEL] * len(requests)

    async def _all() -> list[Review]:
        with _status() as status:
            if local.is_local(model):
                status(f"loading the embedded model {model} (the first use also joins and checks its weights)…")
                with contextlib.suppress(Exception):  # the review itself says why, as its degraded reason
                    await local.alitellm_route(model, settings)
            reviews = []
            for index, request in enumerate(requests, start=1):
                where = f" {labels[index - 1]}" if len(requests) > 1 else ""
                status(f"the model is polishing the rewrite{where} ({index}/{len(requests)}); up to "
                       f"{settings.deadline_s:.0f} s (--deadline), then the verified repair stands…")
                reviews.append(await engine.areview(request, settings))
            return reviews

    return asyncio.run(_all())


def review_remote(requests: list[ReviewRequest], settings: Settings) -> list[Review]:
    """The reviews from a running `reviewer serve` (its model is loaded once, there)."""
    from reviewer import remote

    assert settings.server is not None
    with _status() as status:
        def progress(index: int, total: int) -> None:
            status(f"the review server at {settings.server} is reviewing ({index}/{total})…")

        try:
            return remote.reviews(settings.server, requests, settings.server_key,
                                  timeout_s=settings.deadline_s + 60, progress=progress)
        except remote.RemoteError as exc:
            raise UsageError(str(exc)) from None


class _status:
    """A Rich status line on stderr while the model works; silent when stderr is not a terminal."""

    def __enter__(self) -> Any:
        self._live: Any = None
        if sys.stderr.isatty():
            from rich.console import Console

            self._live = Console(stderr=True).status("")
            self._live.start()
        return self.update

    def update(self, message: str) -> None:
        if self._live is not None:
            self._live.update(message)

    def __exit__(self, *_: object) -> None:
        if self._live is not None:
            self._live.stop()


def fails(verdict: str, fail_on: str) -> bool:
    """Whether a verdict reaches the ``--fail-on`` level (exit 1)."""
    if fail_on == "never":
        return False
    if fail_on == "revise":
        return verdict in ("revise", "block")
    return verdict == "block"


def run(args: argparse.Namespace) -> int:
    from reviewer import engine
    from reviewer.commands import render

    pairs, customer_label = build_requests(args)
    settings = settings_from_args(args)
    model = engine.plan(settings).model
    why_rules = "--rules-only" if settings.rules_only else "no model configured"
    if model is not None and args.format != "text" and not (args.rewrite or args.model):
        # Machine formats don't wait minutes for an offline model unless asked: the verdict, findings and
        # the verified repair are the rules' anyway.
        model, why_rules = None, f"--format {args.format} without --rewrite"
    requests = [request for _, request in pairs]
    if settings.server and not settings.rules_only and (args.format == "text" or args.rewrite or args.model):
        reviews = review_remote(requests, settings)
        model = model or f"(the server at {settings.server})"
    else:
        shows_rewrite = args.format in ("text", "json")  # lines, sarif and github list issues only
        reviews = review_all(requests, settings, model, [draft.label for draft, _ in pairs], rewrite=shows_rewrite)
    results = [
        render.Result(label=draft.label, request=request, review=review, customer_label=customer_label)
        for (draft, request), review in zip(pairs, reviews, strict=True)
    ]
    notice = render.EngineNotice(requested_model=model, why_rules=why_rules, hint=engine.no_model_notice(settings))
    if args.format == "json":
        render.print_json(results, as_lines=any(_is_file_label(draft.label) for draft, _ in pairs))
    elif args.format == "lines":
        render.print_lines(results)
    elif args.format in ("sarif", "github"):
        from reviewer.commands import ci_formats

        (ci_formats.print_sarif if args.format == "sarif" else ci_formats.print_github)(results)
    else:
        render.print_text(results, notice)
    if args.format != "text":
        for line in notice.stderr_lines(results):
            print(f"reviewer: {line}", file=sys.stderr)
    return 1 if any(fails(result.review.verdict, settings.fail_on) for result in results) else 0


def _is_file_label(label: str) -> bool:
    return label not in (TEXT_LABEL, STDIN_LABEL)
