"""Rows out of JSONL, CSV and Parquet exports, and the bad ones reported with where they are.

A bad row (invalid JSON, a CSV record with the wrong number of fields or a broken quote,
bytes that are not UTF-8, no draft) becomes a :class:`BadRow` naming its file, row number
and line, and reading goes on: one broken row never stops a run over a year of history.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from reviewer.batch.columns import ColumnError, Columns, resolve

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}
# A help-desk export's reply may be long; a field past this is a runaway quote, not a reply.
csv.field_size_limit(1024 * 1024)

# Help-desk channel names -> the reviewer's four (the rest stay metadata, not context).
CHANNELS = {
    "email": "email",
    "mail": "email",
    "e-mail": "email",
    "web": "email",
    "web_form": "email",
    "chat": "chat",
    "live_chat": "chat",
    "messaging": "chat",
    "whatsapp": "chat",
    "sms": "chat",
    "social": "social",
    "twitter": "social",
    "facebook": "social",
    "instagram": "social",
    "phone": "phone",
    "voice": "phone",
    "call": "phone",
}


class Row(NamedTuple):
    """One reply to review. ``row`` is 1-based among the file's records (header excluded)."""

    source: str
    row: int
    line: int | None
    id: str
    draft: str
    customer: str | None
    agent: str | None
    team: str | None
    channel: str | None
    timestamp: str | None


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be reviewed, and why."""

    source: str
    row: int
    line: int | None
    reason: str

    def describe(self) -> str:
        where = f"row {self.row}" + (f" (line {self.line})" if self.line is not None else "")
        return f"{self.source}: {where}: {self.reason}"


class InputError(ValueError):
    """The input as a whole cannot be read (missing file, unknown format, no draft column)."""


def format_of(path: Path, explicit: str | None = None) -> str:
    if explicit is not None:
        return explicit
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown input format (use .jsonl, .csv or .parquet, or --input-format)")
    return fmt


def check_readable(path: Path, fmt: str) -> None:
    """Fail early, before any row is reviewed, on an input that cannot be opened."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder")
    if fmt == "parquet":
        require_pyarrow(f"{path}: reading Parquet")


def require_pyarrow(what: str) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError(f"{what} needs pyarrow: pip install 'reviewer[parquet]'") from None


def read(path: Path, fmt: str, explicit: Mapping[str, str | None]) -> Iterator[Row | BadRow]:
    """Every row of one input file, in order; bad rows as :class:`BadRow`."""
    source = str(path)
    if fmt == "csv":
        yield from _read_csv(path, source, explicit)
    elif fmt == "parquet":
        yield from _read_parquet(path, source, explicit)
    else:
        yield from _read_jsonl(path, source, explicit)


def _read_jsonl(path: Path, source: str, explicit: Mapping[str, str | None]) -> Iterator[Row | BadRow]:
    columns: Columns | None = None
    row = 0
    with path.open("rb") as lines:
        for line_number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            row += 1
            try:
                value = json.loads(raw.decode("utf-8-sig" if line_number == 1 else "utf-8"))
            except UnicodeDecodeError as exc:
                yield BadRow(source, row, line_number, f"not UTF-8 (invalid byte at offset {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield BadRow(source, row, line_number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(value, dict):
                yield BadRow(source, row, line_number, f"a JSON {type(value).__name__}, not an object")
                continue
            if columns is None:
                columns = _columns(value.keys(), explicit, source)
            yield row_of(value, columns, source, row, line_number)


def _read_csv(path: Path, source: str, explicit: Mapping[str, str | None]) -> Iterator[Row | BadRow]:
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(f"{source}: unreadable CSV header: {exc}") from None
        columns = _columns(header, explicit, source)
        row = 0
        while True:
            first_line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                row += 1
                yield BadRow(source, row, first_line, f"broken CSV: {exc}")
                continue
            if not fields:
                continue  # a blank line
            row += 1
            if len(fields) != len(header):
                yield BadRow(source, row, first_line, f"{len(fields)} fields, the header has {len(header)}")
                continue
            if any(_has_surrogates(field) for field in fields):
                yield BadRow(source, row, first_line, "not UTF-8")
                continue
            yield row_of(dict(zip(header, fields, strict=True)), columns, source, row, first_line)


def _read_parquet(path: Path, source: str, explicit: Mapping[str, str | None]) -> Iterator[Row | BadRow]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    columns = _columns(parquet.schema_arrow.names, explicit, source)
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            yield row_of(record, columns, source, row, None)


def _columns(names: Sequence[str] | Any, explicit: Mapping[str, str | None], source: str) -> Columns:
    try:
        return resolve(names, explicit, source)
    except ColumnError as exc:
        raise InputError(str(exc)) from None


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _get(record: Mapping[str, Any], column: str | None) -> Any:
    if column is None:
        return None
    if column in record:
        return record[column]
    value: Any = record
    for part in column.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str | None:
    """A metadata value as text; None for missing or empty."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def row_of(record: Mapping[str, Any], columns: Columns, source: str, row: int, line: int | None) -> Row | BadRow:
    draft = _get(record, columns.draft)
    if not isinstance(draft, str | int | float) or not str(draft).strip():
        return BadRow(source, row, line, f"no draft in column {columns.draft!r}")
    customer = _get(record, columns.customer)
    row_id = _text(_get(record, columns.id)) or f"{Path(source).name}:{row}"
    return Row(
        source=source,
        row=row,
        line=line,
        id=row_id,
        draft=str(draft),
        customer=str(customer) if isinstance(customer, str | int | float) and str(customer).strip() else None,
        agent=_text(_get(record, columns.agent)),
        team=_text(_get(record, columns.team)),
        channel=_text(_get(record, columns.channel)),
        timestamp=_text(_get(record, columns.timestamp)),
    )


def build_request(row: Row) -> Any:
    """The row as a ``ReviewRequest`` (a help-desk channel name mapped to the reviewer's four)."""
    from reviewer import ReviewRequest

    channel = CHANNELS.get(row.channel.lower()) if row.channel else None
    return ReviewRequest(draft=row.draft, customer_message=row.customer, context={"channel": channel})
