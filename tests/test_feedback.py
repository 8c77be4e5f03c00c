"""Feedback: the SQLite store (schema version, migrations, WAL), POST /v1/feedback, and the export."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reviewer import check
from reviewer.cli import main
from reviewer.config import Settings
from reviewer.evaluation.cases import load_cases
from reviewer.feedback import export, store
from reviewer.feedback.store import FeedbackRequest, FeedbackStore, StoreError, UnknownReview
from reviewer.models import Review, ReviewRequest, Rewrite
from reviewer.service.app import create_app

AUTH = {"Authorization": "Bearer k1"}
CUSTOMER = "My order #4411 arrived broken and this is the second time I'm writing!"
DRAFT = "I'm sorry you feel that way about order #4411. Per our policy, there is nothing we can do."
POOR = "Sorry for any inconvenience with order #4411. Please contact us again."
GOOD = (
    "I'm sorry that order #4411 arrived broken, and that you had to write to us twice; I understand how "
    "frustrating that is. That's on us. Thank you for your patience. Could you reply with a photo of the "
    "damage so we can sort it out?"
)


def reviewed(rewrite: str | None = POOR) -> tuple[ReviewRequest, Review]:
    request = ReviewRequest(draft=DRAFT, customer_message=CUSTOMER, context={"channel": "email"})
    review = check(request, rewrite=False)  # the rewrite, when any, is set below
    if rewrite is not None:
        review = review.model_copy(update={"rewrite": Rewrite(text=rewrite, status="unverified", problems=["x"])})
    return request, review


# --- the store ------------------------------------------------------------------------------


def test_a_new_database_is_migrated_to_the_current_version_in_wal_mode(tmp_path: Path) -> None:
    db = FeedbackStore(tmp_path / "sub" / "f.db")
    assert db.schema_version() == store.SCHEMA_VERSION == len(store.MIGRATIONS)
    db.close()
    with sqlite3.connect(tmp_path / "sub" / "f.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert [row[0] for row in conn.execute("SELECT version FROM schema_version")] == [1]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"reviews", "feedback", "schema_version"} <= tables


def test_reopening_keeps_rows_and_runs_no_migration_twice(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    first = FeedbackStore(path)
    saved = first.save_review(*reviewed())
    first.add_feedback(FeedbackRequest(review_id=str(saved.id), action="accepted"))
    first.close()
    again = FeedbackStore(path)
    assert [row.action for row in again.feedback()] == ["accepted"]
    again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_a_later_migration_is_applied_to_an_older_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.db"
    FeedbackStore(path).close()
    monkeypatch.setattr(store, "MIGRATIONS", [*store.MIGRATIONS, ["ALTER TABLE feedback ADD COLUMN channel TEXT"]])
    monkeypatch.setattr(store, "SCHEMA_VERSION", len(store.MIGRATIONS))
    upgraded = FeedbackStore(path)
    assert upgraded.schema_version() == 2
    upgraded.close()
    with sqlite3.connect(path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(feedback)")]
    assert "channel" in columns


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    FeedbackStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(StoreError, match="newer"):
        FeedbackStore(path)


def test_feedback_for_an_unknown_review_is_refused(tmp_path: Path) -> None:
    db = FeedbackStore(tmp_path / "f.db")
    with pytest.raises(UnknownReview):
        db.add_feedback(FeedbackRequest(review_id="nope", action="accepted"))
    db.close()


def test_a_write_is_visible_to_another_connection_at_once(tmp_path: Path) -> None:
    """Synchronous, committed writes: a second process (here a second connection) sees the row immediately."""
    path = tmp_path / "f.db"
    db = FeedbackStore(path)
    saved = db.save_review(*reviewed())
    db.add_feedback(FeedbackRequest(review_id=str(saved.id), action="rejected", reason="hollow"))
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT action, reason FROM feedback").fetchall() == [("rejected", "hollow")]
        assert db._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db.close()


# --- the route ------------------------------------------------------------------------------


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(api_keys=["k1"], rules_only=True, db=tmp_path / "f.db"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test", headers=AUTH
    ) as c:
        yield c
    app.state.service.store.close()


async def a_review_id(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/reviews", json={"draft": DRAFT, "customer_message": CUSTOMER})
    assert response.status_code == 200
    review_id = response.json()["id"]
    assert isinstance(review_id, str) and len(review_id) == 32
    return review_id


async def test_a_review_gets_an_id_and_feedback_on_it_is_stored(client: httpx.AsyncClient, tmp_path: Path) -> None:
    review_id = await a_review_id(client)
    answer = await client.post(
        "/v1/feedback",
        json={"review_id": review_id, "action": "edited", "edited_text": GOOD, "agent_id": "a-1"},
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["review_id"] == review_id and body["action"] == "edited" and body["id"] >= 1
    with sqlite3.connect(tmp_path / "f.db") as conn:
        row = conn.execute("SELECT review_id, action, edited_text, agent_id FROM feedback").fetchone()
        stored = json.loads(conn.execute("SELECT request_json FROM reviews").fetchone()[0])
    assert row == (review_id, "edited", GOOD, "a-1")
    assert stored["customer_message"] == CUSTOMER


async def test_the_as_you_type_check_stores_nothing(client: httpx.AsyncClient, tmp_path: Path) -> None:
    response = await client.post("/v1/check", json={"draft": DRAFT})
    assert response.json()["id"] is None
    with sqlite3.connect(tmp_path / "f.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM reviews").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"action": "accepted"}, 422, "review_id"),
        ({"review_id": "REVIEW", "action": "liked"}, 422, "action"),
        ({"review_id": "REVIEW", "action": "edited"}, 422, "edited_text"),
        ({"review_id": "REVIEW", "action": "edited", "edited_text": "  "}, 422, "edited_text"),
        ({"review_id": "REVIEW", "action": "rejected"}, 422, "reason"),
        ({"review_id": "REVIEW", "action": "rejected", "reason": "x", "criterion": "nice"}, 422, "criterion"),
        ({"review_id": "REVIEW", "action": "accepted", "extra": 1}, 422, "extra"),
        ({"review_id": "0" * 32, "action": "accepted"}, 404, "review_id"),
    ],
)
async def test_bad_feedback_gets_the_services_error_shape(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, field: str
) -> None:
    if body.get("review_id") == "REVIEW":
        body = {**body, "review_id": await a_review_id(client)}
    response = await client.post("/v1/feedback", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] == ("not_found" if status == 404 else "invalid_request")


async def test_feedback_needs_the_api_key(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/feedback", json={}, headers={"Authorization": ""})
    assert response.status_code == 401


async def test_without_a_database_reviews_have_no_id_and_feedback_is_off() -> None:
    app = create_app(Settings(rules_only=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        review = await c.post("/v1/reviews", json={"draft": DRAFT})
        assert review.json()["id"] is None
        answer = await c.post("/v1/feedback", json={"review_id": "x", "action": "accepted"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "feedback_disabled"


# --- the export -----------------------------------------------------------------------------


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A database with one accepted, one rejected (naming a criterion), one edited, one rejected without rewrite."""
    path = tmp_path / "f.db"
    db = FeedbackStore(path)
    for action, extra, rewrite in (
        ("accepted", {}, GOOD),
        ("rejected", {"reason": "Hollow\nsorry.", "criterion": "apologizes", "agent_id": "a-7"}, POOR),
        ("edited", {"edited_text": GOOD}, POOR),
        ("rejected", {"reason": "no rewrite at all"}, None),
    ):
        saved = db.save_review(*reviewed(rewrite))
        db.add_feedback(FeedbackRequest(review_id=str(saved.id), action=action, **extra))  # type: ignore[arg-type]
    db.close()
    return path


def test_export_as_cases_writes_valid_eval_cases(
    filled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cases.yaml"
    assert main(["feedback", "export", "--as", "cases", "--db", str(filled), "-o", str(out)]) == 0
    cases = load_cases(out)
    assert [(c.id, c.input.draft, c.expect.verdict) for c in cases] == [
        ("feedback-2", POOR, ["revise", "block"]),
        ("feedback-3", GOOD, ["send"]),
    ]
    assert cases[0].expect.criteria == {"apologizes": ["fail"]}
    assert cases[0].rationale == "agent a-7 rejected this rewrite: Hollow sorry."
    assert cases[0].input.customer_message == CUSTOMER and cases[0].input.context.channel == "email"
    assert cases[0].tags == ["feedback", "rejected", "apologizes"]
    err = capsys.readouterr().err
    assert "skipped feedback-4" in err and "exported 2 cases" in err


def test_export_as_labels_writes_labels_and_texts(filled: Path, tmp_path: Path) -> None:
    labels, texts = tmp_path / "labels.jsonl", tmp_path / "texts.jsonl"
    code = main(["feedback", "export", "--as", "labels", "--db", str(filled), "-o", str(labels), "--texts", str(texts)])
    assert code == 0
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    assert [(r["id"], r["labels"], r["verdict"]) for r in rows] == [
        ("feedback-2", {"apologizes": "fail"}, "revise"),
        ("feedback-3", {}, "send"),
    ]
    shown = [json.loads(line) for line in texts.read_text().splitlines()]
    assert shown == [
        {"id": "feedback-2", "customer": CUSTOMER, "reply": POOR},
        {"id": "feedback-3", "customer": CUSTOMER, "reply": GOOD},
    ]


def test_export_to_stdout_is_yaml(filled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["feedback", "export", "--as", "cases", "--db", str(filled)]) == 0
    assert len(yaml.safe_load(capsys.readouterr().out)) == 2


def test_an_empty_export_is_an_empty_list(tmp_path: Path) -> None:
    FeedbackStore(tmp_path / "f.db").close()
    assert export.as_cases([]) == "[]\n"
    assert main(["feedback", "export", "--as", "cases", "--db", str(tmp_path / "f.db"), "-o", str(tmp_path / "c")]) == 0
    assert yaml.safe_load((tmp_path / "c").read_text()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "cases"], "pass --db PATH or set REVIEWER_DB"),
        (["--as", "cases", "--db", "missing.db"], "no such database"),
        (["--as", "labels", "--db", "DB"], "needs --texts"),
    ],
)
def test_export_usage_errors_are_one_line_and_exit_2(
    args: list[str], message: str, filled: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVIEWER_DB", raising=False)
    args = [str(filled) if a == "DB" else a for a in args]
    assert main(["feedback", "export", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


async def test_a_failing_database_costs_the_review_its_id_not_the_review(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    review_id = await a_review_id(client)
    monkeypatch.setattr(FeedbackStore, "save_review", broken)
    monkeypatch.setattr(FeedbackStore, "add_feedback", broken)
    review = await client.post("/v1/reviews", json={"draft": DRAFT})
    assert review.status_code == 200 and review.json()["id"] is None and review.json()["verdict"] == "block"
    answer = await client.post("/v1/feedback", json={"review_id": review_id, "action": "accepted"})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert answer.json()["error"]["code"] == "unavailable"
