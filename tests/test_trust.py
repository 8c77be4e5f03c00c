"""Trust profiles: loading and validation, the conservative default, the engine using a model's profile,
and ``--suggest-trust`` choosing from measured agreement with a verdict floor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_llm import FakeLLM, model_answer
from llm_helpers import fast_settings, phrase_rules

from reviewer import engine, merge, prompts, rules, trust
from reviewer.cli import main
from reviewer.evaluation import trust_suggest
from reviewer.models import ReviewRequest
from reviewer.rubric import CRITERION_IDS

REPO = Path(__file__).resolve().parents[1]


def profile_data(model: str, levels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    levels = levels or {}
    criteria = {cid: {"trust": levels.get(cid, "rules"), "n": 50, "agreement": {"rules": 0.9, "model": 0.5}}
                for cid in CRITERION_IDS}
    return {"model": model, "criteria": criteria, **extra}


def write_profile(folder: Path, name: str, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# -- loading, validating, choosing ----------------------------------------------------------------

def test_a_model_without_a_profile_gets_the_conservative_one(tmp_path: Path) -> None:
    choice = trust.choose("openai/some-unmeasured-model", "review@v1", tmp_path)
    assert choice.name == "conservative" and "no trust profile" in choice.reason
    assert set(choice.profile.levels().values()) == {"rules_then_model"}
    assert trust.trust_map_for("openai/some-unmeasured-model", "review@v1") == merge.CONSERVATIVE


def test_a_profile_applies_to_its_model_and_aliases_only_under_its_prompt(tmp_path: Path) -> None:
    write_profile(tmp_path, "m", profile_data("local/m", {"thanks-customer": "model"}, aliases=["openai/m"],
                                              prompt="review@v1"))
    for name in ("local/m", "openai/m"):
        choice = trust.choose(name, "review@v1", tmp_path)
        assert choice.profile.levels()["thanks-customer"] == "model"
        assert choice.profile.levels()["apologizes"] == "rules"
    other_prompt = trust.choose("local/m", "review@v9", tmp_path)
    assert other_prompt.name == "conservative" and "measured with prompt review@v1" in other_prompt.reason


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["criteria"].pop("owns-it"), "missing criteria: owns-it"),
    (lambda d: d["criteria"].__setitem__("kindness", {"trust": "rules"}), "unknown criteria: kindness"),
    (lambda d: d["criteria"]["owns-it"].__setitem__("trust", "always"), "criteria.owns-it.trust"),
    (lambda d: d.pop("model"), "model"),
])
def test_a_bad_profile_is_refused_with_the_file_and_the_problem(tmp_path: Path, change: Any, message: str) -> None:
    data = profile_data("local/m")
    change(data)
    path = write_profile(tmp_path, "bad", data)
    with pytest.raises(trust.TrustError) as caught:
        trust.load_profile(path)
    assert str(path) in str(caught.value) and message in str(caught.value)
    # at review time a broken profile folder never breaks a review: conservative, saying why
    choice = trust.choose("local/m", None, tmp_path)
    assert choice.name == "conservative" and str(path) in choice.reason


def test_every_committed_profile_is_valid_and_carries_its_numbers() -> None:
    profiles = trust.load_profiles(REPO / "evals" / "trust")
    assert profiles, "evals/trust/ holds no profile"
    for profile in profiles:
        assert profile.prompt and profile.measured.get("case_set") and profile.measured.get("cases")
        assert {"rules", "merged", "majority"} <= set(profile.verdict)
        for cid, entry in profile.criteria.items():
            assert entry.why and entry.n is not None, cid
            assert {"rules", "model", "rules_then_model"} <= set(entry.agreement), cid


# -- the engine uses the answering model's profile -------------------------------------------------

@pytest.fixture
def _phrase_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "run", phrase_rules)


@pytest.mark.usefixtures("_phrase_rules")
async def test_engine_follows_the_models_profile(fake_llm: FakeLLM, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    draft = "Your order is on its way."  # no thanks: the phrase rules decide thanks-customer = fail
    answer = model_answer(draft, statuses={"thanks-customer": "pass", "next-steps": "fail"})
    folder = tmp_path / "trust"
    monkeypatch.setenv(trust.PROFILE_DIR_ENV, str(folder))
    monkeypatch.setenv("REVIEWER_JUDGE", "none")  # the trust map alone: the learned judge decides next-steps too
    write_profile(folder, "primary", profile_data(
        "openai/primary", {"thanks-customer": "model", "next-steps": "rules"}, prompt="review@v1"))

    fake_llm.script(answer)
    review = await engine.areview(ReviewRequest(draft=draft), fast_settings(fake_llm))
    by_id = {c.id: c for c in review.criteria}
    # trusted with thanks: the model's pass replaces the decided rule's fail
    assert by_id["thanks-customer"].status == "pass" and by_id["thanks-customer"].source == "model"
    # not trusted with next steps: the rules abstained ("na") and stay the answer; the model's fail is a suggestion
    assert by_id["next-steps"].status == "na" and by_id["next-steps"].source == "rules"
    assert any(f.criterion == "next-steps" and f.source == "model" and f.severity == "suggestion"
               for f in review.findings)

    fake_llm.script(answer)
    unprofiled = await engine.areview(ReviewRequest(draft=draft), fast_settings(fake_llm, model="openai/other"))
    by_id = {c.id: c for c in unprofiled.criteria}
    # conservative: the confident rule stands; the model fills only where the rules abstained, marked as its own
    assert by_id["thanks-customer"].status == "fail" and by_id["thanks-customer"].source == "rules"
    assert by_id["next-steps"].status == "fail" and by_id["next-steps"].source == "model"
    assert not by_id["next-steps"].decided


@pytest.mark.usefixtures("_phrase_rules")
async def test_rules_then_model_never_clears_a_confident_rules_finding(fake_llm: FakeLLM, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    draft = "I'm sorry you feel that way. Thanks for writing."
    monkeypatch.setenv(trust.PROFILE_DIR_ENV, str(tmp_path))
    write_profile(tmp_path, "primary", profile_data(
        "openai/primary", dict.fromkeys(CRITERION_IDS, "rules_then_model")))
    fake_llm.script(model_answer(draft))  # the model says every criterion passes
    review = await engine.areview(ReviewRequest(draft=draft), fast_settings(fake_llm))
    by_id = {c.id: c for c in review.criteria}
    assert by_id["no-fake-apology"].status == "fail" and by_id["no-fake-apology"].source == "rules"
    assert review.verdict == "block"
    assert any(f.rule_id == "fake-apology.feel" for f in review.findings)


# -- suggesting a profile from a run ---------------------------------------------------------------

def fake_case(i: int, verdict: str, statuses: dict[str, tuple[str, str, str, bool]],
              findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One report case: per criterion (gold, rules, model, rules_decided); unlisted criteria all pass."""
    criteria = {}
    for cid in CRITERION_IDS:
        gold, rule, model, decided = statuses.get(cid, ("pass", "pass", "pass", True))
        criteria[cid] = {"expected": [gold], "got": rule, "rules": rule, "model": model, "rules_decided": decided}
    return {"id": f"c{i}", "error": None, "verdict": {"expected": [verdict], "got": "x"}, "criteria": criteria,
            "rules_verdict": verdict, "model_verdict": "block", "findings": findings or []}


def fake_report(cases: list[dict[str, Any]], majority: float) -> dict[str, Any]:
    return {
        "run": {"model": "local/m", "prompt": "review@v1", "case_set": "realworld-dev", "mode": "replay",
                "prompt_hash": "abc", "rules_version": "1"},
        "metrics": {"criteria": {cid: {"majority_agreement": 0.5} for cid in CRITERION_IDS},
                    "majority_verdict": {"answer": "revise", "accuracy": majority},
                    "sources": {"verdict": {"model": 0.1}}},
        "cases": cases,
    }


def test_suggest_trusts_the_model_only_where_it_is_measured_to_help(tmp_path: Path) -> None:
    cases = []
    for i in range(40):
        fails = i % 2 == 0
        statuses = {
            # the rules abstain on offers-solution and guess "pass"; the model gets it right every time
            "offers-solution": ("fail" if fails else "pass", "pass", "fail" if fails else "pass", False),
            # the rules are right on owns-it, the model is wrong half the time
            "owns-it": ("pass", "pass", "fail" if fails else "pass", True),
        }
        cases.append(fake_case(i, "send", statuses))
    profile = trust_suggest.suggest(fake_report(cases, majority=0.5))
    levels = profile.levels()
    assert levels["offers-solution"] == "rules_then_model"  # only where the rules abstain; no gain from more
    assert levels["owns-it"] == "rules"
    assert profile.criteria["offers-solution"].agreement["rules_then_model"] == 1.0
    assert profile.criteria["offers-solution"].agreement["rules"] == 0.5
    assert profile.criteria["owns-it"].agreement["model"] == 0.5
    assert profile.verdict["merged"] is not None and profile.verdict["merged"] >= profile.verdict["rules"]  # type: ignore[operator]
    dumped = yaml.safe_load(trust_suggest.dump_profile(profile))
    assert trust.load_profile(write_profile(tmp_path, "s", dumped)) == profile


def test_suggest_needs_enough_cases() -> None:
    cases = [fake_case(i, "send", {"offers-solution": ("fail", "pass", "fail", False)}) for i in range(5)]
    profile = trust_suggest.suggest(fake_report(cases, majority=0.5))
    assert profile.levels()["offers-solution"] == "rules"
    assert "too few" in profile.criteria["offers-solution"].why


def test_suggest_demotes_a_criterion_that_drags_the_verdict_below_the_floor() -> None:
    cases = []
    for i in range(80):
        # understands-issue (a gating criterion), where the rules abstain: on the 10 labelled replies the model is
        # right and the rules are not, but it also fails 60 replies the labels call "na" and "send", so trusting
        # it wins the criterion and loses the verdict.
        if i < 20:
            cases.append(fake_case(i, "revise", {"understands-issue": ("fail", "pass", "fail", False)}))
        else:
            cases.append(fake_case(i, "send", {"understands-issue": ("na", "na", "fail", False)}))
    profile = trust_suggest.suggest(fake_report(cases, majority=0.5))
    entry = profile.criteria["understands-issue"]
    assert entry.agreement["rules_then_model"] == 1.0 and entry.agreement["rules"] == 0.0
    assert entry.trust == "rules" and "demoted" in entry.why
    assert profile.verdict["merged"] == profile.verdict["rules"] == 0.75
    assert profile.verdict["conservative"] == 0.25


def test_simulated_verdict_follows_the_rubric_rule() -> None:
    levels: dict[str, trust.TrustLevel] = dict.fromkeys(CRITERION_IDS, "rules_then_model")
    warning = [{"severity": "warning", "source": "rules"}]
    model_error = [{"severity": "error", "source": "model"}]
    assert trust_suggest.simulate_verdict(fake_case(0, "send", {}, warning), levels) == "revise"
    assert trust_suggest.simulate_verdict(fake_case(0, "send", {}, model_error), levels) == "send"
    gating_fail = {"apologizes": ("pass", "fail", "pass", True)}
    assert trust_suggest.simulate_verdict(fake_case(0, "send", gating_fail), levels) == "revise"
    assert trust_suggest.simulate_verdict(fake_case(0, "send", gating_fail),
                                  {**levels, "apologizes": "model"}) == "send"


def test_suggest_trust_needs_a_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["eval", "--no-progress", "--model", "rules", "--suggest-trust", "--out", str(tmp_path)])
    assert code == 2
    assert "--suggest-trust needs a model run" in capsys.readouterr().err


def test_suggest_trust_and_only_recorded_end_to_end(fake_llm: FakeLLM, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from test_eval import llm_args, responder, write_cases

    fake_llm.responder = responder("Order 55120: I'm sorry your delivery is late. Thank you for telling us.")
    cases, recordings = write_cases(tmp_path), tmp_path / "recordings"
    assert main(["eval", "--no-progress", *llm_args(fake_llm, cases, tmp_path / "rec"), "--record",
                 "--recordings", str(recordings)]) == 0
    fake_llm.stop()
    # keep only the first case's responses: a partial recording
    [jsonl] = recordings.glob("*.jsonl")
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if '"case": "t-fake-apology"' in line]
    assert kept and len(kept) < len(lines)
    jsonl.write_text("\n".join(kept) + "\n", encoding="utf-8")
    out = tmp_path / "replay"
    capsys.readouterr()
    assert main(["eval", "--no-progress", *llm_args(None, cases, out), "--replay", "--only-recorded",
                 "--recordings", str(recordings), "--suggest-trust"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert [c["id"] for c in report["cases"]] == ["t-fake-apology"] and "subset" in report["run"]
    assert report["run"]["trust"]["profile"] == "conservative"
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "Trust profile: **conservative**" in markdown and "rules_then_model: " in markdown
    suggested = out / "trust__openai_fake-model.yaml"
    assert f"suggested trust profile: {suggested}" in printed
    profile = trust.load_profile(suggested)
    assert profile.model == "openai/fake-model" and profile.measured["cases"] == 1
    assert set(profile.levels().values()) == {"rules"}  # one case is too few to trust the model with anything
    # a changed prompt leaves nothing recorded for it: the subset is empty and the run refuses, saying why
    edited = tmp_path / "prompts"
    shutil.copytree(REPO / "prompts", edited)
    v1 = edited / "review" / "v1.md"
    v1.write_text(v1.read_text(encoding="utf-8").replace("# user", "Be brief.\n\n# user", 1), encoding="utf-8")
    monkeypatch.setattr(prompts, "prompts_root", lambda: edited)
    assert main(["eval", "--no-progress", *llm_args(None, cases, out), "--replay", "--only-recorded",
                 "--recordings", str(recordings)]) == 2
    assert "the prompt changed" in capsys.readouterr().err


def test_allow_stale_replays_a_case_whose_rule_findings_moved_and_counts_it(
    fake_llm: FakeLLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_eval import llm_args, responder, write_cases

    fake_llm.responder = responder("Order 55120: I'm sorry your delivery is late. Thank you for telling us.")
    cases, recordings = write_cases(tmp_path), tmp_path / "recordings"
    assert main(["eval", "--no-progress", *llm_args(fake_llm, cases, tmp_path / "rec"), "--record",
                 "--recordings", str(recordings)]) == 0
    fake_llm.stop()
    monkeypatch.setattr(rules, "run", phrase_rules)  # the rules changed since: their findings in the request differ
    strict, tolerant = tmp_path / "strict", tmp_path / "tolerant"
    assert main(["eval", "--no-progress", *llm_args(None, cases, strict), "--replay",
                 "--recordings", str(recordings)]) == 1
    assert json.loads((strict / "report.json").read_text(encoding="utf-8"))["run"]["replay_misses"]
    capsys.readouterr()
    assert main(["eval", "--no-progress", *llm_args(None, cases, tolerant), "--replay", "--allow-stale",
                 "--recordings", str(recordings)]) == 0
    report = json.loads((tolerant / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["replay_stale"] >= 1 and "replay_misses" not in report["run"]
    assert "changed since recording" in capsys.readouterr().out
    assert report["metrics"]["cases"]["degraded"] == 0


def test_suggest_stops_when_the_rules_alone_are_below_the_majority() -> None:
    # every reply is "revise" and the rules say "send" to all: nothing the profile can demote reaches the floor
    cases = [fake_case(i, "revise", {}) for i in range(30)]
    profile = trust_suggest.suggest(fake_report(cases, majority=1.0))
    assert set(profile.levels().values()) == {"rules"} and profile.verdict["merged"] == 0.0
