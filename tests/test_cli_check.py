"""``reviewer check``: inputs, formats, exit codes and bad input.

Rules-engine behaviour is tested elsewhere; here only the README's phrase
("I'm sorry you feel that way" -> block) and a clear hard negative are relied on.
Everything else uses reviews the engine is made to return, so the CLI is tested
on its own terms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import FAKE_APOLOGY, GOOD_DRAFT, assert_usage_error, feed_stdin, run_cli

from reviewer import engine
from reviewer.commands import check as check_command
from reviewer.commands import render
from reviewer.models import MAX_DRAFT_CHARS, CriterionResult, Engine, Finding, Review, ReviewRequest, Rewrite, Span
from reviewer.rubric import CRITERIA

LINE_FORMAT = re.compile(
    r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning|suggestion): .+ \[\S+\]$"
)

Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at the terminal width (80 when piped); wide lines keep assertions simple."""
    monkeypatch.setenv("COLUMNS", "200")


README_DRAFT = "I'm sorry you feel that way. Per our policy, there is nothing we can do."


def _review(verdict: str, findings: list[Finding] | None = None, **engine_fields: object) -> Review:
    criteria = [CriterionResult(id=c.id, status="na", explanation="not judged", decided=False) for c in CRITERIA]
    score = {"send": 90, "revise": 60, "block": 10}[verdict]
    return Review.model_validate(
        {
            "verdict": verdict,
            "score": score,
            "criteria": [c.model_dump() for c in criteria],
            "findings": [f.model_dump() for f in findings or []],
            "engine": Engine(rules_version="test", **engine_fields).model_dump(),
        }
    )


def _engine_returns(monkeypatch: pytest.MonkeyPatch, make: Callable[[ReviewRequest], Review]) -> None:
    def check(request: ReviewRequest, *, judge: str | None = None, rewrite: bool = True) -> Review:
        return make(request)

    monkeypatch.setattr(engine, "check", check)


# --- the real rules path ---------------------------------------------------------------------------


def test_text_output_shows_draft_criteria_verdict_and_engine(capsys: Capsys) -> None:
    outcome = run_cli(capsys, "check", "--rules-only", FAKE_APOLOGY)
    assert outcome.code == 1  # block reaches the default --fail-on block
    assert "Draft" in outcome.out and FAKE_APOLOGY in outcome.out
    assert "Criteria" in outcome.out
    for criterion in CRITERIA:
        assert criterion.id in outcome.out
    assert "Verdict:" in outcome.out and "BLOCK" in outcome.out and "/100" in outcome.out
    assert "Engine: rules only (--rules-only)" in outcome.out
    assert outcome.err == ""


def test_json_output_is_a_review(capsys: Capsys) -> None:
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "json", FAKE_APOLOGY)
    review = Review.model_validate_json(outcome.out)
    assert review.verdict == "block"
    assert review.engine.mode == "rules"
    assert [c.id for c in review.criteria] == [c.id for c in CRITERIA]
    errors = [f for f in review.findings if f.severity == "error"]
    assert errors, review.findings
    for finding in errors:
        assert finding.span is not None
        assert FAKE_APOLOGY[finding.span.start : finding.span.end] == finding.span.text


def test_lines_output_points_at_line_and_column_of_each_finding(capsys: Capsys) -> None:
    draft = f"Hello Sam,\n\n   {FAKE_APOLOGY}"
    review = Review.model_validate_json(run_cli(capsys, "check", "--rules-only", "--format", "json", draft).out)
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "lines", draft)
    assert outcome.code == 1
    lines = outcome.out.splitlines()
    assert lines and all(LINE_FORMAT.match(line) for line in lines), lines
    error = next(f for f in review.findings if f.severity == "error")
    assert error.span is not None
    # computed here independently: line 3, column = offset in that line + 1
    line_start = draft.index(FAKE_APOLOGY[:5]) - 3
    expected = f"<text>:3:{error.span.start - line_start + 1}: error: {error.message} [{error.rule_id}]"
    assert expected in lines


@pytest.mark.parametrize("fmt", ["lines", "sarif", "github"])
def test_issue_only_formats_build_no_repair(capsys: Capsys, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    from reviewer import repair

    def no_repair(*_: object, **__: object) -> None:
        raise AssertionError("the repair was built for an output that never shows it")

    monkeypatch.setattr(repair, "repair", no_repair)
    outcome = run_cli(capsys, "check", "--rules-only", "--format", fmt, FAKE_APOLOGY)
    assert outcome.code == 1 and "error" in outcome.out.lower(), outcome
    with pytest.raises(AssertionError, match="never shows it"):  # json shows the rewrite, so it still builds one
        run_cli(capsys, "check", "--rules-only", "--format", "json", FAKE_APOLOGY)


def test_good_draft_passes_the_default_gate(capsys: Capsys) -> None:
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "json", GOOD_DRAFT)
    assert Review.model_validate_json(outcome.out).verdict != "block"
    assert outcome.code == 0


@pytest.mark.parametrize(("fail_on", "code"), [("block", 1), ("revise", 1), ("never", 0)])
def test_fail_on_with_a_blocked_draft(capsys: Capsys, fail_on: str, code: int) -> None:
    assert (
        run_cli(capsys, "check", "--rules-only", "--format", "lines", "--fail-on", fail_on, FAKE_APOLOGY).code == code
    )


def test_stdin(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    feed_stdin(monkeypatch, f"Hi,\n{FAKE_APOLOGY}\n".encode())
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "lines", "-")
    assert outcome.code == 1
    assert any(line.startswith("-:2:") and ": error: " in line for line in outcome.out.splitlines()), outcome.out


def test_folder_of_canned_replies_gives_json_lines_with_paths(capsys: Capsys, tmp_path: Path) -> None:
    (tmp_path / "b-bad.txt").write_text(FAKE_APOLOGY)
    (tmp_path / "a-good.txt").write_text(GOOD_DRAFT)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "c.md").write_text("\ufeff" + FAKE_APOLOGY)  # a BOM is not part of the draft
    (tmp_path / ".hidden").write_text("not a reply")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("not a reply")
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "json", str(tmp_path))
    assert outcome.code == 1
    records = [json.loads(line) for line in outcome.out.splitlines()]
    assert [r["path"] for r in records] == [
        str(tmp_path / "a-good.txt"),
        str(tmp_path / "b-bad.txt"),
        str(tmp_path / "nested" / "c.md"),
    ]
    verdicts = [Review.model_validate(r["review"]).verdict for r in records]
    assert verdicts[0] != "block" and verdicts[1:] == ["block", "block"]
    # the BOM is not part of the draft: the same spans as the file without it
    spans = [[f.span for f in Review.model_validate(r["review"]).findings] for r in records[1:]]
    assert spans[0] == spans[1]


def test_one_file_is_json_lines_too_so_scripts_see_one_shape(capsys: Capsys, tmp_path: Path) -> None:
    reply = tmp_path / "reply.txt"
    reply.write_text(FAKE_APOLOGY)
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "json", str(reply))
    (line,) = outcome.out.splitlines()
    assert json.loads(line)["path"] == str(reply)


def test_several_files_in_lines_and_text_formats(capsys: Capsys, tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.txt", tmp_path / "good.txt"
    bad.write_text(f"Hello,\n{FAKE_APOLOGY}")
    good.write_text(GOOD_DRAFT)
    lines = run_cli(capsys, "check", "--rules-only", "--format", "lines", str(bad), str(good))
    assert any(line.startswith(f"{bad}:2:") and ": error: " in line for line in lines.out.splitlines())
    assert all(LINE_FORMAT.match(line) for line in lines.out.splitlines())
    text = run_cli(capsys, "check", "--rules-only", str(bad), str(good))
    assert str(bad) in text.out and str(good) in text.out
    assert "2 drafts: 1 block" in text.out
    assert text.code == 1


def test_text_flag_reviews_a_path_as_text(capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("reply.txt").write_text(FAKE_APOLOGY)
    as_file = run_cli(capsys, "check", "--rules-only", "--format", "json", "reply.txt")
    assert json.loads(as_file.out)["path"] == "reply.txt"
    as_text = run_cli(capsys, "check", "--rules-only", "--format", "json", "--text", "reply.txt")
    assert as_text.code == 0
    assert Review.model_validate_json(as_text.out).verdict != "block"


def test_how_arguments_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("macro.txt").write_text("Thanks for waiting.")
    gather = check_command.gather_drafts
    assert gather(["I am sorry you feel that way"], False) == [
        check_command.Draft("<text>", "I am sorry you feel that way")
    ]
    # unquoted words are one draft
    assert gather(["Sorry", "about", "that."], False) == [check_command.Draft("<text>", "Sorry about that.")]
    assert gather(["macro.txt"], False) == [check_command.Draft("macro.txt", "Thanks for waiting.")]
    assert gather(["macro.txt"], True) == [check_command.Draft("<text>", "macro.txt")]
    assert gather(["a", "b"], True) == [check_command.Draft("<text>", "a b")]


# --- exit codes and engine notices, with reviews the engine is made to return ----------------------


@pytest.mark.parametrize(
    ("verdict", "fail_on", "code"),
    [
        ("send", "block", 0),
        ("revise", "block", 0),
        ("block", "block", 1),
        ("send", "revise", 0),
        ("revise", "revise", 1),
        ("block", "revise", 1),
        ("block", "never", 0),
        ("revise", "never", 0),
    ],
)
def test_exit_code_for_each_verdict_and_fail_on(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch, verdict: str, fail_on: str, code: int
) -> None:
    _engine_returns(monkeypatch, lambda request: _review(verdict))
    for fmt in ("text", "json", "lines"):
        outcome = run_cli(capsys, "check", "--rules-only", "--format", fmt, "--fail-on", fail_on, "Any draft.")
        assert outcome.code == code, (fmt, outcome)


def test_one_failing_file_among_several_fails_the_run(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _engine_returns(monkeypatch, lambda request: _review("revise" if "meh" in request.draft else "send"))
    for name, body in {"a.txt": "fine", "b.txt": "meh", "c.txt": "fine"}.items():
        (tmp_path / name).write_text(body)
    assert run_cli(capsys, "check", "--rules-only", "--fail-on", "revise", str(tmp_path)).code == 1
    assert run_cli(capsys, "check", "--rules-only", "--fail-on", "block", str(tmp_path)).code == 0


def test_no_model_configured_says_how_to_get_the_llm_review(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "resolve_model", lambda settings: None)
    text = run_cli(capsys, "check", GOOD_DRAFT)
    assert "Engine: rules only (no model configured)" in text.out
    assert "--model" in text.out and "reviewer[local]" in text.out
    as_json = run_cli(capsys, "check", "--format", "json", GOOD_DRAFT)
    Review.model_validate_json(as_json.out)  # stdout stays pure JSON
    assert "--model" in as_json.err and "reviewer[local]" in as_json.err
    assert len(as_json.err.strip().splitlines()) == 1
    explicit = run_cli(capsys, "check", "--rules-only", "--format", "json", GOOD_DRAFT)
    assert explicit.err == ""  # the user chose rules only: no advice


def test_model_path_is_taken_when_a_model_resolves(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model flags reach Settings, and the output names the model (the LLM itself is tested elsewhere)."""
    seen = {}

    async def fake_areview(request: ReviewRequest, settings: object) -> Review:
        seen["settings"] = settings
        return _review("send", mode="llm", model="openai/fake-model", prompt_version="review@v1")

    monkeypatch.setattr(engine, "areview", fake_areview)
    outcome = run_cli(
        capsys, "check", "--model", "openai/fake-model", "--api-base", "http://127.0.0.1:9/v1", "--api-key", "k",
        "--fallback-models", "openai/a, openai/b", "--timeout", "7.5", "--deadline", "30", "--prompt", "review@v1",
        GOOD_DRAFT,
    )  # fmt: skip
    assert outcome.code == 0
    assert "Engine: model openai/fake-model, prompt review@v1" in outcome.out
    settings = seen["settings"]
    assert settings.model == "openai/fake-model"  # type: ignore[attr-defined]
    assert settings.api_base == "http://127.0.0.1:9/v1"  # type: ignore[attr-defined]
    assert settings.api_key == "k"  # type: ignore[attr-defined]
    assert settings.fallback_models == ["openai/a", "openai/b"]  # type: ignore[attr-defined]
    assert settings.timeout_s == 7.5  # type: ignore[attr-defined]
    assert settings.deadline_s == 30  # type: ignore[attr-defined]


def test_degraded_review_says_so_and_why(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    async def degraded(request: ReviewRequest, settings: object) -> Review:
        return _review("send", degraded=True, degraded_reason="timeout after 3 attempts")

    monkeypatch.setattr(engine, "areview", degraded)
    text = run_cli(capsys, "check", "--model", "openai/fake-model", GOOD_DRAFT)
    said = " ".join(text.out.split())
    assert "rules only (degraded): the model openai/fake-model gave no usable answer (timeout after 3 attempts)" in said
    for way_out in ("--rules-only", "REVIEWER_LOCAL_THREADS=1", "--deadline SECONDS"):
        assert way_out in said
    lines = run_cli(capsys, "check", "--model", "openai/fake-model", "--format", "lines", GOOD_DRAFT)
    assert "degraded" in lines.err and "timeout after 3 attempts" in lines.err


def test_machine_formats_do_not_wait_for_a_configured_model_unless_asked(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVIEWER_MODEL", "openai/slow-offline-model")
    called = []

    async def model_review(request: ReviewRequest, settings: object) -> Review:
        called.append(request)
        return _review("send", mode="llm", model="openai/slow-offline-model")

    monkeypatch.setattr(engine, "areview", model_review)
    for fmt in ("json", "lines"):
        run_cli(capsys, "check", "--format", fmt, README_DRAFT)
    assert called == []  # the verdict, the findings and the repair come from the rules, at once
    as_json = run_cli(capsys, "check", "--format", "json", README_DRAFT)
    review = Review.model_validate_json(as_json.out)
    assert review.engine.mode == "rules" and review.rewrite is not None and review.rewrite.source == "repair"
    run_cli(capsys, "check", "--format", "json", "--rewrite", README_DRAFT)
    assert len(called) == 1  # asked for: the model runs


def test_the_verdict_comes_before_the_criteria_table(capsys: Capsys) -> None:
    out = run_cli(capsys, "check", "--rules-only", README_DRAFT).out
    assert out.index("Verdict:") < out.index("Criteria") < out.index("Rewrite (verified, by the repair)")
    assert "fill in before sending: [what went wrong], [option], [time]" in out


def test_rules_only_flag_wins_over_a_configured_model(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_MODEL", "openai/never-called")

    async def must_not_run(request: ReviewRequest, settings: object) -> Review:
        raise AssertionError("the model path ran despite --rules-only")

    monkeypatch.setattr(engine, "areview", must_not_run)
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "json", GOOD_DRAFT)
    assert Review.model_validate_json(outcome.out).engine.mode == "rules"


def test_context_and_customer_reach_the_request(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[ReviewRequest] = []

    def record(request: ReviewRequest) -> Review:
        seen.append(request)
        return _review("send")

    _engine_returns(monkeypatch, record)
    customer = tmp_path / "customer.txt"
    customer.write_text("Where is my order #123?")
    run_cli(
        capsys, "check", "--rules-only", "--channel", "chat", "--company", "Acme", "--agent-name", "Sam",
        "--language", "en", "--allowed-remedy", "refund", "--allowed-remedy", "replacement",
        "--customer-file", str(customer), "A draft.",
    )  # fmt: skip
    run_cli(capsys, "check", "--rules-only", "--customer", "It broke.", "Another draft.")
    first, second = seen
    assert first.customer_message == "Where is my order #123?"
    assert first.context.channel == "chat" and first.context.company == "Acme"
    assert first.context.agent_name == "Sam" and first.context.language == "en"
    assert first.context.allowed_remedies == ["refund", "replacement"]
    assert second.customer_message == "It broke." and second.context.channel is None


def test_customer_message_findings_are_located_in_the_customer_text(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    customer = "Hi.\nThis is the THIRD time I write!"
    start = customer.index("THIRD")
    finding = Finding(
        rule_id="customer.shouting",
        criterion="acknowledges-feelings",
        severity="suggestion",
        span=Span(start=start, end=start + 5, text="THIRD", source="customer_message"),
        message="The customer has written before; acknowledge it.",
    )
    _engine_returns(monkeypatch, lambda request: _review("send", [finding]))
    inline = run_cli(capsys, "check", "--rules-only", "--format", "lines", "--customer", customer, "A draft.")
    assert inline.out.splitlines() == [
        "<customer>:2:13: suggestion: The customer has written before; acknowledge it. [customer.shouting]"
    ]
    customer_file = tmp_path / "customer.txt"
    customer_file.write_text(customer)
    from_file = run_cli(
        capsys, "check", "--rules-only", "--format", "lines", "--customer-file", str(customer_file), "x y"
    )
    assert from_file.out.startswith(f"{customer_file}:2:13: suggestion:")
    text = run_cli(capsys, "check", "--rules-only", "--customer", customer, "A draft.")
    assert "Customer's message" in text.out and "This is the THIRD time I write!" in text.out
    assert "In the customer's message (1)" in text.out and "“THIRD”" in text.out


def test_text_output_lists_findings_with_suggestions_and_the_rewrite(
    capsys: Capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = "Dear customer,\nI'm sorry if you were upset."
    start = draft.index("I'm sorry if")
    finding = Finding(
        rule_id="fake-apology.sorry-if",
        criterion="no-fake-apology",
        severity="error",
        span=Span(start=start, end=len(draft) - 1, text=draft[start:-1]),
        message="A conditional apology.",
        suggestion="I'm sorry we let you down",
    )
    review = _review("block", [finding], mode="llm", model="openai/m")
    review.rewrite = Rewrite(
        text="Dear customer, I'm sorry we let you down.", status="unverified", problems=["drops the order number"]
    )

    async def fake_areview(request: ReviewRequest, settings: object) -> Review:
        return review

    monkeypatch.setattr(engine, "areview", fake_areview)
    outcome = run_cli(capsys, "check", "--model", "openai/m", draft)
    assert outcome.code == 1
    assert "Findings (1)" in outcome.out
    assert "error" in outcome.out and "2:1" in outcome.out and "[fake-apology.sorry-if]" in outcome.out
    assert "A conditional apology." in outcome.out
    assert "suggestion: I'm sorry we let you down" in outcome.out
    assert "Rewrite (unverified, by the model)" in outcome.out and "I'm sorry we let you down." in outcome.out
    assert "unverified: drops the order number" in outcome.out


def test_draft_markup_is_printed_literally(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drafts are untrusted: Rich markup or emoji codes in them are text, not styling."""
    _engine_returns(monkeypatch, lambda request: _review("send"))
    outcome = run_cli(capsys, "check", "--rules-only", "[bold red]Hi[/] :smile: there")
    assert "[bold red]Hi[/] :smile: there" in outcome.out


def test_spans_are_highlighted_in_the_draft() -> None:
    draft = "Hello. I'm sorry you feel that way."
    start = draft.index("I'm")
    finding = Finding(
        rule_id="r", criterion="no-fake-apology", severity="error",
        span=Span(start=start, end=len(draft) - 1, text=draft[start:-1]), message="m",
    )  # fmt: skip
    text = render._highlighted(draft, [finding], "draft")
    assert [(s.start, s.end, str(s.style)) for s in text.spans] == [(start, len(draft) - 1, "bold white on red")]


def test_position_counts_lines_and_columns_from_one() -> None:
    text = "ab\ncd\n\nef"
    assert render.position(text, 0) == (1, 1)
    assert render.position(text, 1) == (1, 2)
    assert render.position(text, 3) == (2, 1)
    assert render.position(text, 7) == (4, 1)
    assert render.position(text, 9) == (4, 3)


def test_failed_criterion_without_a_finding_still_gets_a_line(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_next_steps(request: ReviewRequest) -> Review:
        review = _review("revise")
        for criterion in review.criteria:
            if criterion.id == "next-steps":
                criterion.status = "fail"
                criterion.explanation = "No next step or time."
        return review

    _engine_returns(monkeypatch, failing_next_steps)
    outcome = run_cli(capsys, "check", "--rules-only", "--format", "lines", "--fail-on", "revise", "A draft.")
    assert outcome.out.splitlines() == ["<text>:1:1: warning: Next steps: No next step or time. [next-steps]"]
    assert outcome.code == 1


# --- bad input: exit 2, one line on stderr ----------------------------------------------------------


def test_empty_draft(capsys: Capsys) -> None:
    assert_usage_error(run_cli(capsys, "check", "   \n\t "), "<text>", "draft is empty")


def test_empty_file(capsys: Capsys, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert_usage_error(run_cli(capsys, "check", str(empty)), str(empty), "draft is empty")


def test_empty_stdin(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    feed_stdin(monkeypatch, b"")
    assert_usage_error(run_cli(capsys, "check", "-"), "-: draft is empty")


def test_over_long_draft(capsys: Capsys, tmp_path: Path) -> None:
    long_file = tmp_path / "long.txt"
    long_file.write_text("a" * (MAX_DRAFT_CHARS + 1))
    assert_usage_error(run_cli(capsys, "check", str(long_file)), str(long_file), f"limit is {MAX_DRAFT_CHARS}")
    assert_usage_error(run_cli(capsys, "check", "word " * 5000), "limit is")


def test_huge_file_is_refused_without_reading_it(capsys: Capsys, tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:
        handle.truncate(check_command.MAX_FILE_BYTES + 1)
    assert_usage_error(run_cli(capsys, "check", str(huge)), str(huge), "bytes")


def test_non_utf8_file(capsys: Capsys, tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Désolé pour le retard.".encode("latin-1"))
    assert_usage_error(run_cli(capsys, "check", str(latin)), str(latin), "not UTF-8")


def test_non_utf8_stdin(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    feed_stdin(monkeypatch, b"\xff\xfe bad")
    assert_usage_error(run_cli(capsys, "check", "-"), "not UTF-8")


def test_unreadable_file(capsys: Capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("Sorry.")
    real_read_bytes = Path.read_bytes

    def deny(self: Path) -> bytes:  # chmod 000 does not stop root, so deny the read itself
        if self == locked:
            raise PermissionError(13, "Permission denied")
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    assert_usage_error(run_cli(capsys, "check", str(locked)), str(locked), "permission denied")


def test_missing_file(capsys: Capsys, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.txt")
    assert_usage_error(run_cli(capsys, "check", missing), missing, "no such file", "--text")
    assert_usage_error(run_cli(capsys, "check", "replies/macro.txt"), "no such file")


def test_missing_customer_file(capsys: Capsys, tmp_path: Path) -> None:
    missing = str(tmp_path / "customer.txt")
    assert_usage_error(run_cli(capsys, "check", "--customer-file", missing, "A draft."), missing, "no such file")


def test_empty_folder(capsys: Capsys, tmp_path: Path) -> None:
    assert_usage_error(run_cli(capsys, "check", str(tmp_path)), "folder has no files")


def test_one_bad_file_in_a_folder_stops_before_any_output(capsys: Capsys, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text(FAKE_APOLOGY)
    (tmp_path / "b.txt").write_bytes(b"\xc3\x28")
    assert_usage_error(run_cli(capsys, "check", "--format", "lines", str(tmp_path)), "b.txt", "not UTF-8")


def test_text_mixed_with_files(capsys: Capsys, tmp_path: Path) -> None:
    reply = tmp_path / "r.txt"
    reply.write_text("Hi.")
    assert_usage_error(run_cli(capsys, "check", str(reply), "hello"), "'hello'", "--text")


def test_no_input(capsys: Capsys) -> None:
    assert_usage_error(run_cli(capsys, "check"), "no draft given")


def test_stdin_twice(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    feed_stdin(monkeypatch, b"Hi.")
    assert_usage_error(run_cli(capsys, "check", "-", "-"), "only once")
    assert_usage_error(run_cli(capsys, "check", "--customer-file", "-", "-"), "stdin")


def test_over_long_customer_message(capsys: Capsys) -> None:
    assert_usage_error(run_cli(capsys, "check", "--customer", "x" * 20_001, "A draft."), "customer_message")


def test_over_long_context_value(capsys: Capsys) -> None:
    assert_usage_error(run_cli(capsys, "check", "--company", "A" * 201, "A draft."), "company")


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "--format", "xml", "A draft."],
        ["check", "--fail-on", "always", "A draft."],
        ["check", "--channel", "fax", "A draft."],
        ["check", "--timeout", "0", "A draft."],
        ["check", "--timeout", "soon", "A draft."],
        ["check", "--bogus", "A draft."],
        ["check", "--customer", "a", "--customer-file", "b", "A draft."],
        ["nonsense"],
    ],
)
def test_bad_flags(capsys: Capsys, argv: list[str]) -> None:
    assert_usage_error(run_cli(capsys, *argv))


def test_bad_environment_setting(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWER_TIMEOUT_S", "-1")
    assert_usage_error(run_cli(capsys, "check", "A draft."), "REVIEWER_")


def test_non_utf8_terminal_does_not_crash() -> None:
    """``LANG=C``-style stdout: characters it cannot show are escaped (valid JSON escapes in json), no traceback."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "ascii", "REVIEWER_LOCAL_DEFAULT": "false"}
    draft = "I’m sorry you feel that way — really."
    for fmt in ("text", "json"):
        result = subprocess.run(
            [sys.executable, "-m", "reviewer", "check", "--rules-only", "--format", fmt, draft],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 1, (fmt, result.stderr)
        assert "Traceback" not in result.stderr
    assert Review.model_validate_json(result.stdout).verdict == "block"
