"""Reviews and agents' feedback on them, in one SQLite file (``REVIEWER_DB``).

The service stores each full review it answers (the request and the review) and
gives it an id; an agent's "use this", "edit" or "reject (why)" is stored against
that id. The file is opened in WAL mode with ``synchronous=FULL``: a write the
caller was told about survives a crash of the process or the machine. Several
workers may share the file (WAL and a busy timeout). The schema carries its own
version (``schema_version``) and migrates forward on open; a file newer than this
code is refused rather than misread.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reviewer.models import MAX_DRAFT_CHARS, CriterionId, Review, ReviewRequest

Action = Literal["accepted", "edited", "rejected"]
ACTIONS: tuple[Action, ...] = ("accepted", "edited", "rejected")

# MIGRATIONS[n] takes the schema from version n to n + 1. Append; never edit a published step.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE reviews (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            request_json TEXT NOT NULL,
            review_json TEXT NOT NULL
        )""",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            review_id TEXT NOT NULL REFERENCES reviews(id),
            created_at TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('accepted', 'edited', 'rejected')),
            edited_text TEXT,
            reason TEXT,
            criterion TEXT,
            agent_id TEXT
        )""",
        "CREATE INDEX feedback_review ON feedback(review_id)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The database cannot be used (newer schema, unreadable file)."""


class UnknownReview(LookupError):
    """Feedback names a review id this database never stored."""


# "Not blank" as str.strip() means it (it also strips \x1c-\x1f and \x85, which JSON Schema's \s does not match).
_NOT_BLANK = r"[^\s\x1c-\x1f\x85]"


def _required_when(action: str, field: str) -> dict[str, Any]:
    return {
        "if": {"properties": {"action": {"const": action}}, "required": ["action"]},
        "then": {"required": [field], "properties": {field: {"type": "string", "pattern": _NOT_BLANK}}},
    }


class FeedbackRequest(BaseModel):
    """An agent's decision on a review's rewrite (``POST /v1/feedback``)."""

    # The spec states what ``missing()`` enforces, so clients (and the fuzz test) know it.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"allOf": [_required_when("edited", "edited_text"), _required_when("rejected", "reason")]},
    )

    review_id: str = Field(min_length=1, max_length=64, description="The `id` of the review (from /v1/reviews).")
    action: Action = Field(description="accepted: used as is; edited: used after editing; rejected: not used.")
    edited_text: str | None = Field(
        default=None, max_length=MAX_DRAFT_CHARS, description="What the agent sent instead (required when edited)."
    )
    reason: str | None = Field(default=None, max_length=2000, description="Why (required when rejected).")
    criterion: CriterionId | None = Field(
        default=None, description="The criterion the rejected rewrite still gets wrong, when the agent names one."
    )
    agent_id: str | None = Field(default=None, max_length=200)

    def missing(self) -> tuple[str, str] | None:
        """The field an action needs and lacks, with why; None when complete."""
        if self.action == "edited" and not (self.edited_text or "").strip():
            return "edited_text", "edited_text: required when the action is 'edited'"
        if self.action == "rejected" and not (self.reason or "").strip():
            return "reason", "reason: required when the action is 'rejected' (say why)"
        return None


class FeedbackRecord(BaseModel):
    """A stored feedback row, as ``POST /v1/feedback`` answers it."""

    id: int
    review_id: str
    action: Action
    created_at: str


@dataclass(frozen=True)
class FeedbackRow:
    """One feedback row with the review it is about, for export."""

    id: int
    created_at: str
    action: Action
    edited_text: str | None
    reason: str | None
    criterion: str | None
    agent_id: str | None
    request: ReviewRequest
    review: Review


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class FeedbackStore:
    """One connection to the database, safe to share between threads (writes are serialised)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the feedback database: {exc}") from exc
        self._lock = threading.Lock()

    def _version(self) -> int:
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        if self._version() > SCHEMA_VERSION:
            raise StoreError(f"schema version {self._version()} is newer than this reviewer's ({SCHEMA_VERSION})")
        while self._version() < SCHEMA_VERSION:
            self._db.execute("BEGIN IMMEDIATE")  # another worker may be migrating: check again under the lock
            try:
                version = self._version()
                if version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        self._db.execute(statement)
                    self._db.execute("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def schema_version(self) -> int:
        return self._version()

    def save_review(self, request: ReviewRequest, review: Review) -> Review:
        """Store the review under a new id; the review with its ``id`` set."""
        stored = review.model_copy(update={"id": uuid.uuid4().hex})
        with self._lock:
            self._db.execute(
                "INSERT INTO reviews (id, created_at, request_json, review_json) VALUES (?, ?, ?, ?)",
                (stored.id, _now(), request.model_dump_json(), stored.model_dump_json()),
            )
        return stored

    def add_feedback(self, feedback: FeedbackRequest) -> FeedbackRecord:
        """Store one feedback row; UnknownReview when its review was never stored here."""
        created = _now()
        with self._lock:
            known = self._db.execute("SELECT 1 FROM reviews WHERE id = ?", (feedback.review_id,)).fetchone()
            if known is None:
                raise UnknownReview(feedback.review_id)
            cursor = self._db.execute(
                "INSERT INTO feedback (review_id, created_at, action, edited_text, reason, criterion, agent_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    feedback.review_id,
                    created,
                    feedback.action,
                    feedback.edited_text,
                    feedback.reason,
                    feedback.criterion,
                    feedback.agent_id,
                ),
            )
        row_id = cursor.lastrowid
        assert row_id is not None
        return FeedbackRecord(id=row_id, review_id=feedback.review_id, action=feedback.action, created_at=created)

    def feedback(self, actions: Sequence[Action] = ACTIONS) -> Iterator[FeedbackRow]:
        """Feedback rows with the given actions, oldest first, each with its review."""
        marks = ",".join("?" for _ in actions)
        query = (
            "SELECT f.id, f.created_at, f.action, f.edited_text, f.reason, f.criterion, f.agent_id,"
            " r.request_json, r.review_json FROM feedback f JOIN reviews r ON r.id = f.review_id"
            f" WHERE f.action IN ({marks}) ORDER BY f.id"
        )
        for row in self._db.execute(query, tuple(actions)).fetchall():
            yield FeedbackRow(
                id=row[0],
                created_at=row[1],
                action=row[2],
                edited_text=row[3],
                reason=row[4],
                criterion=row[5],
                agent_id=row[6],
                request=ReviewRequest.model_validate_json(row[7]),
                review=Review.model_validate_json(row[8]),
            )

    def close(self) -> None:
        self._db.close()
