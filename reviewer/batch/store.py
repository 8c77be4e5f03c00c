"""The batch output: one record per reviewed row, written so that a crash loses only the rows in flight.

JSONL: one record a line, ``{"id", "source", "row", "agent", "team", "channel", "timestamp",
"draft", "customer", "review"}`` (``id`` first; the texts so a report can show what to coach on),
appended and flushed (and fsynced) per chunk; a line cut short by a crash is cut off on the next
run. Parquet: ``OUT`` is a folder of ``part-NNNNN.parquet`` files, each chunk written to a
temporary name and renamed into place, so a part is either whole or absent; columns are the
metadata, ``verdict``, ``score`` and ``review`` (the Review as JSON). A rerun reads the ids
already in ``OUT`` and skips them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from reviewer.batch.read import InputError, Row, require_pyarrow

OUTPUT_FORMATS = ("jsonl", "parquet")
META = ("id", "source", "row", "agent", "team", "channel", "timestamp", "draft", "customer")
_ID_PREFIX = '{"id": '


class Reviewed(NamedTuple):
    """A row's metadata and its review (``review_json``: the Review serialised once, in the worker)."""

    id: str
    source: str
    row: int
    agent: str | None
    team: str | None
    channel: str | None
    timestamp: str | None
    draft: str
    customer: str | None
    verdict: str
    score: int
    review_json: str

    def meta(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in META}


def output_format(path: Path, explicit: str | None = None) -> str:
    if explicit is not None:
        return explicit
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    raise InputError(f"{path}: unknown output format (use .jsonl or .parquet, or --output-format)")


class Writer(Protocol):
    def write(self, records: Sequence[Reviewed]) -> None: ...

    def close(self) -> None: ...


def done_ids(path: Path, fmt: str) -> set[str]:
    """The ids already in ``OUT`` (empty when it does not exist); repairs a JSONL line cut by a crash."""
    if not path.exists():
        return set()
    if fmt == "parquet":
        return _parquet_ids(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; a JSONL output is a file")
    _cut_partial_line(path)
    ids: set[str] = set()
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            line = raw.decode("utf-8")
            if not line.strip():
                continue
            ids.add(_record_id(line, path, number))
    return ids


def _record_id(line: str, path: Path, number: int) -> str:
    try:
        if line.startswith(_ID_PREFIX):  # our own records: read just the id, not the whole review
            value, _ = json.JSONDecoder().raw_decode(line, len(_ID_PREFIX))
        else:
            value = json.loads(line).get("id")
    except (json.JSONDecodeError, AttributeError):
        value = None
    if not isinstance(value, str):
        raise InputError(f"{path}: line {number} is not a reviewer batch record; choose another -o")
    return value


def _cut_partial_line(path: Path) -> None:
    """Drop a last line without its newline: the write a crash interrupted (its rows are redone)."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        block = 1 << 16
        end = size
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(end - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                handle.truncate(start + cut + 1)
                return
            end = start
        handle.truncate(0)


def _parquet_ids(path: Path) -> set[str]:
    if not path.is_dir():
        raise InputError(f"{path}: a Parquet output is a folder of part files, and this is a file")
    require_pyarrow(f"{path}: Parquet output")
    import pyarrow.parquet as pq

    ids: set[str] = set()
    for part in _parts(path):
        ids.update(pq.read_table(part, columns=["id"]).column("id").to_pylist())
    for stale in path.glob(".part-*.tmp"):  # a part a crash left half-written: its rows are redone
        stale.unlink()
    return ids


def _parts(path: Path) -> list[Path]:
    return sorted(path.glob("part-*.parquet"))


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")

    def write(self, records: Sequence[Reviewed]) -> None:
        if not records:
            return
        self._file.write("".join(record_line(record) + "\n" for record in records))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def record_line(record: Reviewed) -> str:
    """The JSONL line of a record: the metadata, then the review as the worker serialised it."""
    return json.dumps(record.meta(), ensure_ascii=False)[:-1] + ', "review": ' + record.review_json + "}"


class ParquetWriter:
    def __init__(self, path: Path) -> None:
        require_pyarrow(f"{path}: Parquet output")
        path.mkdir(parents=True, exist_ok=True)
        self._path = path
        parts = _parts(path)
        self._next = int(parts[-1].stem.removeprefix("part-")) + 1 if parts else 0

    def write(self, records: Sequence[Reviewed]) -> None:
        if not records:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns: dict[str, list[Any]] = {name: [getattr(r, name) for r in records] for name in META}
        columns["verdict"] = [r.verdict for r in records]
        columns["score"] = [r.score for r in records]
        columns["review"] = [r.review_json for r in records]
        table = pa.table(columns, schema=_parquet_schema())
        name = f"part-{self._next:05d}.parquet"
        temporary = self._path / f".{name}.tmp"
        pq.write_table(table, temporary)
        os.replace(temporary, self._path / name)
        self._next += 1

    def close(self) -> None:
        pass


def _parquet_schema() -> Any:
    """Built on first use: pyarrow is optional."""
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            ("id", text),
            ("source", text),
            ("row", pa.int64()),
            ("agent", text),
            ("team", text),
            ("channel", text),
            ("timestamp", text),
            ("draft", text),
            ("customer", text),
            ("verdict", text),
            ("score", pa.int64()),
            ("review", text),
        ]
    )


def open_writer(path: Path, fmt: str) -> Writer:
    if fmt == "parquet":
        return ParquetWriter(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JsonlWriter(path)


def records(path: Path) -> Iterator[dict[str, Any]]:
    """Every record of a batch output, the review parsed: for the report and for comparing runs.

    A JSONL file, a folder of Parquet parts, or a folder of JSON Lines parts (``--engine ray``).
    """
    if not path.is_dir():
        yield from _jsonl_records(path)
        return
    parquet = sorted(path.glob("*.parquet"))
    if parquet:
        require_pyarrow(f"{path}: Parquet output")
        import pyarrow.parquet as pq

        for part in parquet:
            for record in pq.read_table(part).to_pylist():
                yield _plain_record(record)
        return
    for part in sorted(path.glob("*.json*")):
        yield from _jsonl_records(part)


def _plain_record(record: dict[str, Any]) -> dict[str, Any]:
    """The JSONL shape: the review as an object, no copies of its verdict and score."""
    if isinstance(record.get("review"), str):
        record["review"] = json.loads(record["review"])
    record.pop("verdict", None)
    record.pop("score", None)
    return record


def _jsonl_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if not line.endswith("\n"):
                    return  # the last line of a run still being written, or cut by a crash
                raise InputError(f"{path}: line {number} is not JSON") from None
            if isinstance(record, dict) and isinstance(record.get("review"), str):
                record = _plain_record(record)
            if not isinstance(record, dict) or not isinstance(record.get("review"), dict):
                raise InputError(f"{path}: line {number} is not a reviewer batch record")
            yield record


def record(row: Row, verdict: str, score: int, review_json: str) -> Reviewed:
    """The row's metadata (every field the two share, by name) with its review."""
    carried = {name: getattr(row, name) for name in Reviewed._fields if name in Row._fields}
    return Reviewed(**carried, verdict=verdict, score=score, review_json=review_json)
