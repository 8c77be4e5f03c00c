"""``reviewer batch``: inputs, column mapping, bad rows, outputs and resuming (in-process and real processes)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import FAKE_APOLOGY, GOOD_DRAFT, assert_usage_error, run_cli

from reviewer import check
from reviewer.batch import store
from reviewer.models import Review

Capsys = pytest.CaptureFixture[str]
DRAFTS = [
    FAKE_APOLOGY,
    GOOD_DRAFT,
    "Thanks for your patience.",
    "I'm sorry for the wait. You'll receive an email as soon as we have an estimated delivery date.",
    "Per our policy, there is nothing we can do.",
]


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"r{i}",
            "reply": DRAFTS[i % len(DRAFTS)],
            "customer": "My order is late again!" if i % 2 else None,
            "agent": f"agent{i % 3}",
            "team": "billing" if i % 2 else "shipping",
            "channel": "twitter",
            "created_at": f"2026-0{1 + i % 3}-1{i % 9}T10:00:00Z",
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_out(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_in_one_review_per_row_with_its_metadata(capsys: Capsys, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "export.jsonl", rows(12))
    out = tmp_path / "out.jsonl"
    outcome = run_cli(capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress")
    assert outcome.code == 0, outcome
    records = read_out(out)
    assert sorted(r["id"] for r in records) == sorted(f"r{i}" for i in range(12))
    first = next(r for r in records if r["id"] == "r1")
    assert first["agent"] == "agent1" and first["team"] == "billing" and first["channel"] == "twitter"
    assert first["timestamp"] == "2026-02-11T10:00:00Z" and first["row"] == 2 and first["source"] == str(source)
    review = Review.model_validate(first["review"])
    expected = check(GOOD_DRAFT, "My order is late again!")
    assert review.verdict == expected.verdict and review.findings == expected.findings
    assert "12 reviewed, 0 bad" in outcome.err


def test_pool_of_processes_reviews_every_row_once_like_one_process(capsys: Capsys, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "export.jsonl", rows(300))
    pooled, single = tmp_path / "pooled.jsonl", tmp_path / "single.jsonl"
    outcome = run_cli(capsys, "batch", str(source), "-o", str(pooled), "--workers", "2", "--chunk-size", "16")
    assert outcome.code == 0, outcome
    assert run_cli(capsys, "batch", str(source), "-o", str(single), "--workers", "1", "--no-progress").code == 0
    ids = [r["id"] for r in read_out(pooled)]
    assert len(ids) == 300 and set(ids) == {f"r{i}" for i in range(300)}

    def comparable(path: Path) -> dict[str, Any]:
        records = read_out(path)
        for record in records:
            record["review"]["engine"].pop("latency_ms")
        return {record["id"]: record for record in records}

    assert comparable(pooled) == comparable(single)


def test_rerun_skips_ids_already_in_the_output(capsys: Capsys, tmp_path: Path) -> None:
    source = tmp_path / "export.jsonl"
    out = tmp_path / "out.jsonl"
    write_jsonl(source, rows(5))
    assert run_cli(capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress").code == 0
    write_jsonl(source, rows(8))  # three more rows arrived
    outcome = run_cli(capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress")
    assert "8 read, 5 already in the output, 3 reviewed" in outcome.err
    assert sorted(r["id"] for r in read_out(out)) == sorted(f"r{i}" for i in range(8))


def test_a_line_cut_by_a_crash_is_dropped_and_redone(capsys: Capsys, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "export.jsonl", rows(4))
    out = tmp_path / "out.jsonl"
    run_cli(capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress")
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:40], encoding="utf-8")  # the third write cut mid-line
    outcome = run_cli(capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress")
    assert "2 already in the output, 2 reviewed" in outcome.err
    assert sorted(r["id"] for r in read_out(out)) == ["r0", "r1", "r2", "r3"]


def test_csv_with_broken_rows_finishes_and_names_them(capsys: Capsys, tmp_path: Path) -> None:
    source = tmp_path / "tickets.csv"
    good = rows(6)
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket_id", "assignee", "group", "response", "created_at"])
        for r in good[:3]:
            writer.writerow([r["id"], r["agent"], r["team"], r["reply"], r["created_at"]])
        handle.write('bad1,agent0,billing,"a quote "broken here,2026-01-01\n')  # row 4
        handle.write("bad2,agent0,billing\n")  # row 5: 3 fields of 5
        handle.write('bad3,agent0,billing,"",2026-01-01\n')  # row 6: no draft
        for r in good[3:]:
            writer.writerow([r["id"], r["agent"], r["team"], r["reply"], r["created_at"]])
    with source.open("ab") as raw:
        raw.write(b"bad4,agent0,billing,caf\xe9 not utf-8,2026-01-01\n")  # row 10
    out = tmp_path / "out.jsonl"
    outcome = run_cli(capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress")
    assert outcome.code == 1  # finished, but not every row could be reviewed
    assert sorted(r["id"] for r in read_out(out)) == sorted(r["id"] for r in good)
    bad_lines = [line for line in outcome.err.splitlines() if "bad row" in line]
    assert len(bad_lines) == 4, outcome.err
    assert f"{source}: row 4 (line 5): broken CSV" in bad_lines[0]
    assert f"{source}: row 5 (line 6): 3 fields, the header has 5" in bad_lines[1]
    assert f"{source}: row 6 (line 7): no draft in column 'response'" in bad_lines[2]
    assert f"{source}: row 10 (line 11): not UTF-8" in bad_lines[3]
    assert "10 read, 0 already in the output, 6 reviewed, 4 bad" in outcome.err
    record = next(r for r in read_out(out) if r["id"] == good[0]["id"])
    assert record["agent"] == good[0]["agent"] and record["team"] == good[0]["team"]


def test_bad_jsonl_rows_duplicates_and_over_long_drafts_are_reported(capsys: Capsys, tmp_path: Path) -> None:
    source = tmp_path / "export.jsonl"
    good = rows(2)
    lines = [
        json.dumps(good[0]),
        "{not json",
        "[1, 2]",
        json.dumps(good[0]),
        json.dumps({"id": "x", "reply": "y" * 20_001}),
    ]
    source.write_text("\n".join([*lines, json.dumps(good[1])]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    outcome = run_cli(capsys, "batch", str(source), "-o", str(out), "--workers", "1", "--no-progress")
    assert outcome.code == 1
    assert "row 2 (line 2): invalid JSON" in outcome.err
    assert "row 3 (line 3): a JSON list, not an object" in outcome.err
    assert "row 4 (line 4): duplicate id 'r0'" in outcome.err
    assert "row 5 (line 5): draft is 20001 characters" in outcome.err
    assert sorted(r["id"] for r in read_out(out)) == ["r0", "r1"]


def test_column_flags_and_nested_json(capsys: Capsys, tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "export.jsonl",
        [{"key": "a1", "body_text": GOOD_DRAFT, "via": {"channel": "email"}, "who": {"name": "Sam"}}],
    )
    out = tmp_path / "out.jsonl"
    outcome = run_cli(
        capsys, "batch", str(source), "-o", str(out), "--no-progress", "--workers", "1",
        "--id-column", "key", "--draft-column", "BODY_TEXT", "--channel-column", "via.channel",
        "--agent-column", "who.name",
    )  # fmt: skip
    assert outcome.code == 0, outcome
    (record,) = read_out(out)
    assert (record["id"], record["channel"], record["agent"]) == ("a1", "email", "Sam")


def test_without_an_id_column_the_file_and_row_number_are_the_id(capsys: Capsys, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "export.jsonl", [{"reply": d} for d in DRAFTS[:2]])
    out = tmp_path / "out.jsonl"
    run_cli(capsys, "batch", str(source), "-o", str(out), "--no-progress", "--workers", "1")
    assert [r["id"] for r in read_out(out)] == ["export.jsonl:1", "export.jsonl:2"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["missing.jsonl"], "missing.jsonl: no such file"),
        (["{src}", "--draft-column", "nope"], "no column 'nope' (--draft-column)"),
        (["{nodraft}"], "no draft column"),
        (["{src}", "--workers", "0"], "must be at least 1"),
        (["{src}", "--model-when", "maybe"], "a comma-separated list of send, revise, block"),
        (["{src}", "--model", "openai/x"], "--model in a batch needs --model-sample N or --model-when"),
        (["{src.txt}"], "unknown input format"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(capsys: Capsys, tmp_path: Path, argv: list[str], fragment: str) -> None:
    src = write_jsonl(tmp_path / "export.jsonl", rows(1))
    nodraft = write_jsonl(tmp_path / "nodraft.jsonl", [{"id": "1", "text_of_something": "hi"}])
    (tmp_path / "src.txt").write_text("x", encoding="utf-8")
    paths = {"{src}": str(src), "{nodraft}": str(nodraft), "{src.txt}": str(tmp_path / "src.txt")}
    argv = [paths.get(arg, arg) for arg in argv]
    outcome = run_cli(capsys, "batch", *argv, "-o", str(tmp_path / "out.jsonl"), "--no-progress")
    assert_usage_error(outcome, fragment)


def test_an_output_that_is_not_a_batch_output_is_refused(capsys: Capsys, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "export.jsonl", rows(1))
    out = tmp_path / "notes.jsonl"
    out.write_text("my notes\n", encoding="utf-8")
    assert_usage_error(run_cli(capsys, "batch", str(src), "-o", str(out)), "line 1 is not a reviewer batch record")
    assert out.read_text(encoding="utf-8") == "my notes\n"


def test_parquet_in_and_out_resumes_by_part(capsys: Capsys, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "export.parquet"
    pq.write_table(pa.Table.from_pylist(rows(40)), source)
    out = tmp_path / "out.parquet"
    argv = ["batch", str(source), "-o", str(out), "--workers", "1", "--chunk-size", "10", "--no-progress"]
    assert run_cli(capsys, *argv).code == 0
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 4
    parts[-1].unlink()  # as if the run had died before its last chunk
    outcome = run_cli(capsys, *argv)
    assert "30 already in the output, 10 reviewed" in outcome.err
    table = pq.read_table(out)
    assert sorted(table.column("id").to_pylist()) == sorted(f"r{i}" for i in range(40))
    records = {r["id"]: r for r in store.records(out)}
    assert records["r0"]["review"]["verdict"] == "block" == table.to_pylist()[0]["verdict"]


def test_killed_mid_run_then_resumed_loses_no_row_and_duplicates_none(tmp_path: Path) -> None:
    """A real ``reviewer batch`` process (and its workers) killed with SIGKILL while writing, then rerun."""
    n = 6000
    source = write_jsonl(tmp_path / "export.jsonl", rows(n))
    out = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "reviewer", "batch", str(source), "-o", str(out), "--workers", "2",
            "--chunk-size", "20", "--no-progress"]  # fmt: skip
    env = {**os.environ, "REVIEWER_LOCAL_DEFAULT": "false"}
    process = subprocess.Popen(argv, env=env, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 200_000):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the batch process and its workers, mid-run
    process.wait()
    written = len(out.read_text(encoding="utf-8").splitlines())
    assert 0 < written < n, written  # the kill landed mid-run
    resumed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ids = [r["id"] for r in read_out(out)]
    assert len(ids) == n and set(ids) == {f"r{i}" for i in range(n)}
    assert "already in the output" in resumed.stderr


def test_the_learned_judge_flows_in_when_chosen(capsys: Capsys, tmp_path: Path) -> None:
    """Rows are reviewed by ``reviewer.check``: the rules alone by default, the shipped judge with --judge default."""
    source = write_jsonl(tmp_path / "export.jsonl", rows(10))
    rules_alone, judged = tmp_path / "rules.jsonl", tmp_path / "judged.jsonl"
    assert run_cli(capsys, "batch", str(source), "-o", str(rules_alone), "--workers", "1", "--no-progress").code == 0
    argv = ["batch", str(source), "-o", str(judged), "--workers", "2", "--chunk-size", "4", "--judge", "default"]
    assert run_cli(capsys, *argv).code == 0
    for out, judge in ((rules_alone, None), (judged, "default")):
        for record in read_out(out):
            expected = check(record["draft"], record["customer"], judge=judge)
            assert record["review"]["engine"]["judge"] == expected.engine.judge
            assert record["review"]["verdict"] == expected.verdict
    assert {r["review"]["engine"]["judge"] for r in read_out(rules_alone)} == {None}
    assert None not in {r["review"]["engine"]["judge"] for r in read_out(judged)}
