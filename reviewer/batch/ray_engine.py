"""``reviewer batch --engine ray``: the same review on Ray Data, for when one machine is not enough.

``read_text`` (JSONL: one line a row, parsed by the actor, so a broken line is a bad row and not
a failed read, which pyarrow's JSON reader would make it) or ``read_parquet`` → ``map_batches``
with :class:`Judge`, an actor that loads and compiles the rules once → ``write_json`` /
``write_parquet`` into the ``OUT`` folder. Each row goes through the same
:func:`reviewer.batch.run.review_rows` as on one machine, so the reviews are the same.
``RAY_ADDRESS`` points it at a cluster (and the inputs and ``OUT`` may be bucket URLs there);
without it, a local Ray instance is started. Needs ``pip install 'reviewer[cluster]'``.

What one machine has and this has not: resuming (Ray retries failed tasks itself; a rerun
starts over into a new ``OUT``), row and line numbers (a distributed read does not keep them:
bad rows are named by file and id or the start of the line, and the input needs an id column),
and the model on a budget.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewer.batch import read
from reviewer.batch.columns import Columns, resolve
from reviewer.batch.read import BadRow, Row
from reviewer.batch.store import META

COLUMNS = (*META, "verdict", "score", "review", "error")


class RayUnavailable(read.InputError):
    """Ray is not installed."""


@dataclass
class RayOptions:
    inputs: list[Path]
    output: Path
    output_format: str
    columns: dict[str, str | None] = field(default_factory=dict)
    num_cpus: int | None = None  # for a local instance; a cluster (RAY_ADDRESS) has its own
    batch_size: int = 256
    progress: bool = False
    judge: str | None = None


@dataclass
class RayResult:
    reviewed: int
    bad: list[str]


def require_ray() -> None:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RayUnavailable("--engine ray needs Ray: pip install 'reviewer[cluster]'") from None


class Judge:
    """A Ray actor: the rules loaded once, then each batch of raw rows reviewed like on one machine."""

    def __init__(self, explicit: Mapping[str, str | None], fmt: str, judge: str | None = None) -> None:
        from reviewer.batch.run import _warm_up

        _warm_up(judge)
        self.judge = judge
        self.explicit = dict(explicit)
        self.fmt = fmt
        self.columns: Columns | None = None

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list[Any]]:
        from reviewer.batch.run import review_rows

        rows: list[Row] = []
        bad: list[BadRow] = []
        for source, record in self._records(batch):
            if isinstance(record, str):
                bad.append(BadRow(source, 0, None, record))
                continue
            if self.columns is None:
                self.columns = resolve(record.keys(), self.explicit, source)
            item = read.row_of(record, self.columns, source, 0, None)
            (bad if isinstance(item, BadRow) else rows).append(item)  # type: ignore[arg-type]
        reviewed, refused = review_rows(rows, self.judge)
        out: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        for result in reviewed:
            for name in META:
                out[name].append(getattr(result, name))
            out["verdict"].append(result.verdict)
            out["score"].append(result.score)
            out["review"].append(result.review_json)
            out["error"].append(None)
        for item in [*bad, *refused]:
            for name in COLUMNS:
                out[name].append(None)
            out["source"][-1] = item.source
            out["error"][-1] = item.reason
        out["row"] = [None] * len(out["id"])  # a distributed read keeps no row numbers
        return out

    def _records(self, batch: Mapping[str, Any]) -> list[tuple[str, dict[str, Any] | str]]:
        paths = [str(p) for p in batch["path"]]
        if self.fmt == "parquet":
            names = [name for name in batch if name != "path"]
            return [(paths[i], {name: _plain(batch[name][i]) for name in names}) for i in range(len(paths))]
        records: list[tuple[str, dict[str, Any] | str]] = []
        for path, line in zip(paths, batch["text"], strict=True):
            text = str(line)
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                records.append((path, f"invalid JSON: {exc.msg}: {text[:40]!r}"))
                continue
            records.append((path, value if isinstance(value, dict) else f"not an object: {text[:40]!r}"))
        return records


def _plain(value: Any) -> Any:
    """A numpy scalar from a Parquet batch as the plain Python value the local reader would give."""
    return value.item() if hasattr(value, "item") and not isinstance(value, str | bytes) else value


def check_ids(options: RayOptions) -> None:
    """A distributed read has no row numbers to make ids from: every input needs an id column."""
    for path in options.inputs:
        fmt = read.format_of(path)
        first = next((item for item in read.read(path, fmt, options.columns) if isinstance(item, Row)), None)
        if first is not None and first.id.startswith(f"{path.name}:"):
            raise read.InputError(f"{path}: --engine ray needs an id column (name it with --id-column)")


def run(options: RayOptions) -> RayResult:
    """Review every row of the inputs on Ray into the ``OUT`` folder; the bad rows' descriptions come back."""
    require_ray()
    import ray
    import ray.data

    check_ids(options)
    if options.output.exists() and any(options.output.iterdir()):
        raise read.InputError(f"{options.output}: exists; --engine ray does not resume, choose a new -o")
    started_here = not ray.is_initialized()
    if started_here:
        address = os.environ.get("RAY_ADDRESS")
        ray.init(
            address=address or None,
            num_cpus=None if address else options.num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    for name in ("ray", "ray.data"):  # its INFO lines about every dataset would drown the summary
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = options.progress
        fmt = read.format_of(options.inputs[0])
        paths = [str(p) for p in options.inputs]
        if fmt == "parquet":
            dataset = ray.data.read_parquet(paths, include_paths=True)
        elif fmt == "jsonl":
            dataset = ray.data.read_text(paths, include_paths=True)
        else:
            raise read.InputError("--engine ray reads JSONL or Parquet")
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        reviewed = dataset.map_batches(
            Judge,
            fn_constructor_kwargs={"explicit": options.columns, "fmt": fmt, "judge": options.judge},
            batch_size=options.batch_size,
            batch_format="numpy",
            # grows to one actor per CPU once the read tasks are done (a fixed pool of every CPU
            # would leave none for the read and wait forever on a small machine)
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=max(1, cpus)),
            num_cpus=1,
        ).materialize()
        bad = reviewed.filter(_is_bad)
        good = reviewed.filter(lambda r: not _is_bad(r)).drop_columns(["error"])
        target = str(options.output)
        if options.output_format == "parquet":
            good.write_parquet(target)
        else:
            good.write_json(target)
        problems = [f"{r['source']}: {r['error']}" for r in bad.take_all()]
        return RayResult(reviewed=good.count(), bad=problems)
    finally:
        if started_here:
            ray.shutdown()


def _is_bad(record: Mapping[str, Any]) -> bool:
    return record["error"] is not None
