"""A batch run: rows in chunks to a pool of processes (the rules review is CPU work), out as they finish.

Each chunk's records are appended and flushed as it comes back, so a crash loses at most
the chunks in flight, and a rerun skips the ids already written. Each row is reviewed
with the public API (``reviewer.check``), so whatever judge it uses, a batch uses too.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reviewer.batch import read, store
from reviewer.batch.read import BadRow, Row, build_request
from reviewer.batch.store import Reviewed, record
from reviewer.batch.summary import Summary

if TYPE_CHECKING:
    from rich.console import Console

    from reviewer.batch.budget import ModelPlan


@dataclass(frozen=True)
class Source:
    path: Path
    fmt: str


@dataclass
class Options:
    sources: list[Source]
    output: Path
    output_format: str
    columns: dict[str, str | None] = field(default_factory=dict)
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    chunk_size: int = 256
    progress: bool = True
    model: ModelPlan | None = None
    judge: str | None = None  # a judge file, "default" or "none"; None: REVIEWER_JUDGE, unset = the rules alone


# --- the worker side --------------------------------------------------------------------------------


def review_rows(rows: list[Row], judge: str | None = None) -> tuple[list[Reviewed], list[BadRow]]:
    """Review a chunk with ``reviewer.check``; a row the API refuses (too long...) comes back as a bad row."""
    from pydantic import ValidationError

    from reviewer import check

    reviewed: list[Reviewed] = []
    bad: list[BadRow] = []
    for row in rows:
        try:
            request = build_request(row)
        except ValidationError as exc:
            first = exc.errors()[0]
            bad.append(BadRow(row.source, row.row, row.line, str(first["msg"]).removeprefix("Value error, ")))
            continue
        try:
            review = check(request, judge=judge)
        except Exception as exc:  # a reviewer bug on one row must not end a run over millions
            bad.append(BadRow(row.source, row.row, row.line, f"review failed: {type(exc).__name__}: {exc}"))
            continue
        reviewed.append(record(row, review.verdict, review.score, review.model_dump_json()))
    return reviewed, bad


def _warm_up(judge: str | None = None) -> None:
    """Load and compile the rules (and the learned judge) once per worker process, before the first chunk."""
    from reviewer import check

    check("Sorry for the wait.", judge=judge)


# --- the main process -------------------------------------------------------------------------------


def pending_rows(
    options: Options, done: set[str], summary: Summary | None, report_bad: Callable[[BadRow], None] | None
) -> Iterator[Row]:
    """The rows still to review, in input order: ids in ``done`` skipped, bad and duplicate rows reported."""
    seen: set[str] = set()
    for source in options.sources:
        for item in read.read(source.path, source.fmt, options.columns):
            if summary is not None:
                summary.rows += 1
            if isinstance(item, BadRow):
                _bad(item, summary, report_bad)
                continue
            if item.id in done:
                if summary is not None:
                    summary.already_done += 1
                continue
            if item.id in seen:
                _bad(BadRow(item.source, item.row, item.line, f"duplicate id {item.id!r}"), summary, report_bad)
                continue
            seen.add(item.id)
            yield item


def _bad(bad: BadRow, summary: Summary | None, report_bad: Callable[[BadRow], None] | None) -> None:
    if summary is not None:
        summary.bad += 1
    if report_bad is not None:
        report_bad(bad)


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run(options: Options, console: Console) -> Summary:
    """Review every pending row of the inputs into the output; returns what happened."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from reviewer.batch.progress import RateColumn

    started = time.perf_counter()
    done = store.done_ids(options.output, options.output_format)
    pending_ids = [row.id for row in pending_rows(options, done, None, None)]  # a first pass: the total, the sample
    if options.model is not None:
        options.model.choose(pending_ids)
    summary = Summary()
    writer = store.open_writer(options.output, options.output_format)
    deferred: list[Row] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not options.progress,
        transient=False,
    )

    def report_bad(bad: BadRow) -> None:
        progress.console.print(f"reviewer: bad row: {bad.describe()}", markup=False, highlight=False, soft_wrap=True)

    try:
        with progress:
            task = progress.add_task("reviewing", total=len(pending_ids))

            def finished(reviewed: list[Reviewed], bad: list[BadRow], rows: list[Row]) -> None:
                for item in bad:
                    _bad(item, summary, report_bad)
                keep = reviewed
                if options.model is not None:
                    by_id = {row.id: row for row in rows}
                    keep = []
                    for result in reviewed:
                        if options.model.wants(result):
                            deferred.append(by_id[result.id])
                        else:
                            keep.append(result)
                writer.write(keep)
                summary.reviewed += len(keep)
                summary.verdicts.update(result.verdict for result in keep)
                progress.advance(task, len(reviewed) + len(bad))

            rows = pending_rows(options, done, summary, report_bad)
            # one chunk or less: starting processes would cost more than reviewing in this one
            workers = options.workers if len(pending_ids) > options.chunk_size else 1
            _review_in_pool(_chunks(rows, options.chunk_size), workers, options.judge, finished)
            if deferred and options.model is not None:
                from reviewer.batch import budget

                progress.update(task, visible=False)
                budget.review_with_model(deferred, options.model, writer, summary, progress, console)
    finally:
        writer.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _review_in_pool(
    chunks: Iterator[list[Row]],
    workers: int,
    judge: str | None,
    finished: Callable[[list[Reviewed], list[BadRow], list[Row]], None],
) -> None:
    """One process reviews in place; more get a pool fed at most two chunks per worker ahead."""
    if workers <= 1:
        _warm_up(judge)
        for chunk in chunks:
            finished(*review_rows(chunk, judge), chunk)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a process running Rich's refresh thread
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_warm_up, initargs=(judge,)) as pool:
        in_flight: dict[Future[tuple[list[Reviewed], list[BadRow]]], list[Row]] = {}
        try:
            for chunk in chunks:
                in_flight[pool.submit(review_rows, chunk, judge)] = chunk
                if len(in_flight) >= 2 * workers:
                    _collect(in_flight, finished, FIRST_COMPLETED)
            while in_flight:
                _collect(in_flight, finished, FIRST_COMPLETED)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _collect(
    in_flight: dict[Future[tuple[list[Reviewed], list[BadRow]]], list[Row]],
    finished: Callable[[list[Reviewed], list[BadRow], list[Row]], None],
    when: str,
) -> None:
    completed, _ = wait(in_flight, return_when=when)
    for future in completed:
        chunk = in_flight.pop(future)
        finished(*future.result(), chunk)
