"""The eval harness end to end: reports, the LLM path through the fake server, record/replay, the gate, compare."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_llm import FakeLLM, RecordedRequest, Reply, draft_of, is_rewrite_reask, model_answer, rewrite_answer

from reviewer import prompts
from reviewer.cli import main

REPO = Path(__file__).resolve().parents[1]
FAKE = "Order 55120: I'm sorry you feel that way. Per our policy, there is nothing we can do about late deliveries."
GOOD = ("I'm sorry we sent the wrong size, that's on us. A size 9 goes out today and the return label is in "
        "your email. Thank you for telling us.")
GOOD_REWRITE_OF_FAKE = ("Order 55120: I'm sorry your delivery is late, that's on us, and I understand how frustrating "
                        "that is. Could you tell me what the tracking page shows now, so I can chase it? "
                        "Thank you for telling us.")

CASES = [
    {
        "id": "t-fake-apology",
        "tags": ["no-fake-apology"],
        "rationale": "a fake apology blocks and the rewrite drops it",
        "input": {"draft": FAKE, "customer_message": "My order 55120 is four days late.",
                  "context": {"channel": "chat"}},
        "expect": {"verdict": "block", "criteria": {"no-fake-apology": "fail"},
                   "rewrite": {"must_not_contain": ["feel that way"], "must_keep": ["55120"],
                               "must_contain": ["tracking"]}},
    },
    {
        "id": "t-good",
        "tags": ["send"],
        "rationale": "a real apology with a fix",
        "input": {"draft": GOOD, "customer_message": "I ordered size 9 and got size 7.",
                  "context": {"channel": "chat"}},
        "expect": {"verdict": ["send", "revise"], "criteria": {"no-fake-apology": "pass"}},
    },
]


def write_cases(tmp_path: Path) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(CASES, sort_keys=False), encoding="utf-8")
    return path


def responder(fake_rewrite: str) -> Callable[[RecordedRequest], Any]:
    """Answers the review prompt per draft; the fake-apology draft gets ``fake_rewrite`` as its rewrite."""

    def respond(request: RecordedRequest) -> Any:
        draft = draft_of(request) or ""
        if draft == FAKE:
            content = model_answer(draft, statuses={"no-fake-apology": "fail"},
                                   quotes={"no-fake-apology": ["I'm sorry you feel that way"]}, rewrite=fake_rewrite)
        else:
            content = model_answer(draft)
        if is_rewrite_reask(request):
            content = rewrite_answer(json.loads(content)["rewrite"])
        return Reply(content)

    return respond


def run_eval(*args: str) -> int:
    return main(["eval", "--no-progress", *[str(a) for a in args]])


def load_report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return data


DEAD_API_BASE = "http://127.0.0.1:9/v1"  # nothing listens there: a replay must never need it


def llm_args(fake: FakeLLM | None, cases: Path, out: Path) -> list[str]:
    api_base = fake.base_url if fake is not None else DEAD_API_BASE
    return ["--cases", str(cases), "--model", "openai/fake-model", "--api-base", api_base, "--out", str(out),
            "--concurrency", "2"]


def test_rules_eval_writes_three_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_eval("--model", "rules", "--out", out) == 0
    report = load_report(out)
    n = report["metrics"]["cases"]["n"]
    assert n >= 80 and len(report["cases"]) == n
    assert report["run"]["model"] == "rules" and report["run"]["mode"] == "rules"
    markdown = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## Verdicts", "## Criteria", "`fail` is the positive class"):
        assert heading in markdown
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.tag == "testsuite" and len(suite.findall("testcase")) == n
    failed = [c for c in report["cases"] if not c["passed"]]
    assert len(suite.findall("testcase/failure")) + len(suite.findall("testcase/error")) == len(failed)


def test_llm_eval_against_fake_server(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.responder = responder(GOOD_REWRITE_OF_FAKE)
    out = tmp_path / "out"
    assert run_eval(*llm_args(fake_llm, write_cases(tmp_path), out)) == 0
    report = load_report(out)
    assert report["run"]["mode"] == "live" and report["run"]["prompt"] == "review@v1"
    assert report["metrics"]["usage"]["total_tokens"] > 0
    assert report["metrics"]["cases"]["degraded"] == 0
    fake_case = next(c for c in report["cases"] if c["id"] == "t-fake-apology")
    assert fake_case["passed"], fake_case["failures"]
    assert fake_case["rewrite"]["state"] == "checked"
    assert fake_case["criteria"]["no-fake-apology"]["model"] == "fail"  # the model's own answer, read from its reply
    assert "## Sources: rules alone, model alone, merged" in (out / "report.md").read_text(encoding="utf-8")
    assert (out / "junit.xml").is_file()


def test_record_then_replay_gives_identical_results_without_a_server(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.responder = responder(GOOD_REWRITE_OF_FAKE)
    cases, recordings = write_cases(tmp_path), tmp_path / "recordings"
    args = llm_args(fake_llm, cases, tmp_path / "recorded")
    assert run_eval(*args, "--record", "--recordings", recordings) == 0
    calls = len(fake_llm.chat_requests)
    assert calls > 0 and list(recordings.glob("*.jsonl"))
    fake_llm.stop()
    replay_args = llm_args(None, cases, tmp_path / "replayed")
    assert run_eval(*replay_args, "--replay", "--recordings", recordings) == 0
    recorded, replayed = load_report(tmp_path / "recorded"), load_report(tmp_path / "replayed")
    assert replayed["run"]["mode"] == "replay" and "replay_misses" not in replayed["run"]

    def essence(report: dict[str, Any]) -> list[Any]:
        return [(c["id"], c["passed"], c["verdict"], c["criteria"], c["rewrite"], c["rewrite_status"])
                for c in report["cases"]]

    assert essence(recorded) == essence(replayed)
    assert recorded["metrics"]["usage"]["total_tokens"] == replayed["metrics"]["usage"]["total_tokens"]


def test_changed_prompt_is_a_replay_miss_that_says_so(
    fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_llm.responder = responder(GOOD_REWRITE_OF_FAKE)
    cases, recordings = write_cases(tmp_path), tmp_path / "recordings"
    assert run_eval(*llm_args(fake_llm, cases, tmp_path / "a"), "--record", "--recordings", recordings) == 0
    fake_llm.stop()
    # A temporary copy of the prompts in which review@v1 has different content (and so a different hash).
    edited = tmp_path / "prompts"
    shutil.copytree(REPO / "prompts", edited)
    v1 = edited / "review" / "v1.md"
    v1.write_text(v1.read_text(encoding="utf-8").replace("# user", "Be extra careful.\n\n# user", 1), encoding="utf-8")
    monkeypatch.setattr(prompts, "prompts_root", lambda: edited)
    capsys.readouterr()
    code = run_eval(*llm_args(None, cases, tmp_path / "b"), "--replay", "--recordings", recordings)
    printed = capsys.readouterr().out
    assert code == 1
    assert "prompt review@v1 changed" in printed and "record it against a model" in printed
    assert load_report(tmp_path / "b")["run"]["replay_misses"]


def test_gate_fails_on_a_regression_and_names_the_case(fake_llm: FakeLLM, tmp_path: Path) -> None:
    cases, baseline = write_cases(tmp_path), tmp_path / "baseline.json"
    fake_llm.responder = responder(GOOD_REWRITE_OF_FAKE)
    assert run_eval(*llm_args(fake_llm, cases, tmp_path / "base"), "--baseline", baseline, "--update-baseline") == 0
    assert run_eval(*llm_args(fake_llm, cases, tmp_path / "same"), "--baseline", baseline) == 0
    # The model's rewrite now keeps the fake apology: it fails verification, so the deterministic repair is
    # returned instead, which never asks about the tracking page: the case that passed fails the gate, by name.
    fake_llm.responder = responder("Order 55120: I'm sorry you feel that way. We will look into it.")
    out = tmp_path / "worse"
    assert run_eval(*llm_args(fake_llm, cases, out), "--baseline", baseline) == 1
    report = load_report(out)
    assert not report["gate"]["passed"]
    assert [r["id"] for r in report["gate"]["case_regressions"]] == ["t-fake-apology"]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Gate: FAILED" in markdown
    assert "`t-fake-apology`: rewrite must_contain: 'tracking'" in markdown
    assert "rewrite.pass_rate" in markdown
    junit = ET.parse(out / "junit.xml").getroot()
    assert junit.find("testcase[@name='baseline']/failure") is not None


def test_compare_prints_two_reports_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = write_cases(tmp_path)
    assert run_eval("--model", "rules", "--out", tmp_path / "a") == 0
    assert run_eval("--model", "rules", "--cases", cases, "--out", tmp_path / "b") == 0
    capsys.readouterr()
    assert main(["eval", "compare", str(tmp_path / "a" / "report.json"), str(tmp_path / "b" / "report.json")]) == 0
    printed = capsys.readouterr().out
    assert "A: Eval: golden" in printed and "B: Eval: cases" in printed
    assert "verdict accuracy" in printed and "no-fake-apology F1" in printed


def test_realworld_dev_is_scored_against_labels_and_the_majority(tmp_path: Path) -> None:
    from reviewer.evaluation.cases import CaseError
    from reviewer.evaluation.realworld import find_shared_dir

    try:
        find_shared_dir()
    except CaseError:
        pytest.skip("shared/realworld is not beside this checkout")
    out = tmp_path / "rw"
    assert run_eval("--model", "rules", "--cases", "realworld-dev", "--out", out, "--update-baseline",
                    "--baseline", tmp_path / "rw-baseline.json") == 0
    report = load_report(out)
    assert report["run"]["case_set"] == "realworld-dev" and report["metrics"]["cases"]["n"] == 358
    assert report["metrics"]["majority_verdict"] == {"answer": "revise", "accuracy": round(222 / 358, 4)}
    # gold na is left out of every criterion's score
    assert all(m["n"] <= 358 for m in report["metrics"]["criteria"].values())
    assert report["metrics"]["criteria"]["invites-input"]["n"] < 358
    # a baseline keeps outcomes, never the real texts
    replies = [json.loads(line)["reply"] for line in
               (find_shared_dir() / "realworld" / "twcs_amazon_replies.jsonl").read_text(encoding="utf-8").splitlines()]
    stored = (tmp_path / "rw-baseline.json").read_text(encoding="utf-8")
    assert not any(len(reply) > 30 and reply[:30] in stored for reply in replies)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cases", "/nonexistent/cases"], "no such file or folder"),
        (["--model", "rules", "--record"], "need a model"),
        (["compare", "only-one.json"], "reviewer eval compare A.json B.json"),
        (["--model", "rules", "--baseline", "/nonexistent/base.json"], "not found"),
        (["--concurrency", "0"], "at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_eval(*args, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_malformed_case_file_names_the_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = [dict(CASES[0], expect={"verdict": "maybe"})]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    assert run_eval("--model", "rules", "--cases", path, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "t-fake-apology" in err and "expect.verdict" in err


def test_recording_more_cases_keeps_what_was_recorded_before(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.responder = responder(GOOD_REWRITE_OF_FAKE)
    recordings = tmp_path / "recordings"
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(yaml.safe_dump(CASES[:1]), encoding="utf-8")
    second.write_text(yaml.safe_dump(CASES[1:]), encoding="utf-8")
    for cases in (first, second):
        assert run_eval(*llm_args(fake_llm, cases, tmp_path / cases.stem), "--record", "--recordings", recordings) == 0
    fake_llm.stop()
    both = write_cases(tmp_path)
    assert run_eval(*llm_args(None, both, tmp_path / "both"), "--replay", "--recordings", recordings) == 0


def test_replaying_the_local_model_never_routes_to_its_runtime() -> None:
    from reviewer.config import Settings
    from reviewer.evaluation.suite import _without_local_runtime

    settings = _without_local_runtime(Settings(model="local/qwen2.5-coder-1.5b", fallback_models=["openai/x"]))
    assert settings.model == "openai/qwen2.5-coder-1.5b" and settings.fallback_models == ["openai/x"]
    assert settings.api_base == DEAD_API_BASE
    assert settings.json_schema is True  # the local server's requests were schema-constrained when recorded
    assert _without_local_runtime(Settings(model="openai/y")).api_base is None


def test_the_report_names_the_prompt_the_engine_uses() -> None:
    from reviewer import local
    from reviewer.config import Settings
    from reviewer.engine import prompt_for as effective_prompt

    assert effective_prompt(local.DEFAULT_MODEL, Settings()) == local.default_prompt(local.DEFAULT_MODEL)
    assert effective_prompt(local.DEFAULT_MODEL, Settings().with_overrides(prompt="review@v1")) == "review@v1"
    assert effective_prompt("openai/x", Settings()) == Settings().prompt


def test_a_model_that_always_fails_gives_degraded_reviews_not_a_crash(fake_llm: FakeLLM, tmp_path: Path) -> None:
    fake_llm.responder = lambda request: 400  # a client error: no retries, straight to the rules review
    out = tmp_path / "out"
    assert run_eval(*llm_args(fake_llm, write_cases(tmp_path), out)) == 0
    report = load_report(out)
    assert report["metrics"]["cases"]["degraded"] == 2 and report["metrics"]["cases"]["errors"] == 0
    # no model answered, yet each draft to fix still gets the verified repair
    assert "rewrite: no rewrite returned" not in report["cases"][0]["failures"]
    assert report["cases"][0]["rewrite_status"] == "verified"


def test_two_recording_runs_into_one_folder_lose_nothing(tmp_path: Path) -> None:
    from reviewer.evaluation.recordings import RecordingStore

    def entry(key: str, prompt_hash: str = "h1") -> dict[str, Any]:
        return {"key": key, "model": "m", "prompt": "review@v1", "prompt_hash": prompt_hash, "case": key,
                "response": {}}

    first, second = RecordingStore(tmp_path), RecordingStore(tmp_path)
    first.load_model("m")
    second.load_model("m")
    first.put(entry("a"))
    second.put(entry("b"))
    first.save()
    second.save()
    assert set(RecordingStore(tmp_path)._read("m")) == {"a", "b"}
    third = RecordingStore(tmp_path)  # re-recording under a new prompt hash replaces the old responses
    third.load_model("m")
    third.put(entry("c", prompt_hash="h2"))
    third.drop_stale("review@v1", "h2")
    third.save()
    assert set(RecordingStore(tmp_path)._read("m")) == {"c"}


def test_an_added_case_is_listed_and_does_not_move_the_compared_metrics(tmp_path: Path) -> None:
    baseline, cases = tmp_path / "baseline.json", write_cases(tmp_path)
    assert run_eval("--model", "rules", "--cases", cases, "--out", tmp_path / "a", "--baseline", baseline,
                    "--update-baseline") == 0
    failing_new = dict(CASES[1], id="t-new-and-failing", expect={"verdict": "block"})  # a good reply never blocks
    more = tmp_path / "more.yaml"
    more.write_text(yaml.safe_dump([*CASES, failing_new], sort_keys=False), encoding="utf-8")
    assert run_eval("--model", "rules", "--cases", more, "--out", tmp_path / "b", "--baseline", baseline) == 0
    gate = load_report(tmp_path / "b")["gate"]
    assert gate["passed"] and gate["cases_added"] == ["t-new-and-failing"] and gate["compared_on"] == 2
    assert "compared on the 2 cases both runs share" in (tmp_path / "b" / "report.md").read_text(encoding="utf-8")


def test_a_bad_tolerances_file_is_caught_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases, baseline = write_cases(tmp_path), tmp_path / "baseline.json"
    assert run_eval("--model", "rules", "--cases", cases, "--out", tmp_path / "a", "--baseline", baseline,
                    "--update-baseline") == 0
    bad = tmp_path / "tolerances.yaml"
    bad.write_text("metrics: {verdict.accuracy: lots}\n", encoding="utf-8")
    capsys.readouterr()
    assert run_eval("--model", "rules", "--cases", cases, "--out", tmp_path / "b", "--baseline", baseline,
                    "--tolerances", bad) == 2
    err = capsys.readouterr().err
    assert err.startswith("reviewer: error: tolerances") and err.count("\n") == 1
    assert not (tmp_path / "b").exists()


def test_the_embedded_model_is_run_one_case_at_a_time_unless_told() -> None:
    """Its server has one slot: parallel cases would only queue there and spend their deadlines waiting."""
    from reviewer import local
    from reviewer.evaluation.suite import DEFAULT_CONCURRENCY, default_concurrency

    assert default_concurrency(local.DEFAULT_MODEL, "live") == 1
    assert default_concurrency(local.DEFAULT_MODEL, "record") == 1
    assert default_concurrency(local.DEFAULT_MODEL, "replay") == DEFAULT_CONCURRENCY  # no model is called
    assert default_concurrency("openai/gpt-4o-mini", "live") == DEFAULT_CONCURRENCY == 4
    assert default_concurrency("rules", "live") == DEFAULT_CONCURRENCY


def test_the_report_records_the_concurrency_used(tmp_path: Path) -> None:
    assert run_eval("--model", "rules", "--out", tmp_path / "out") in (0, 1)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["run"]["concurrency"] == 4
    assert run_eval("--model", "rules", "--concurrency", "2", "--out", tmp_path / "two") in (0, 1)
    assert json.loads((tmp_path / "two" / "report.json").read_text())["run"]["concurrency"] == 2
