"""The golden cases cover what the eval issue asks for, and the scores mean what the report says."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from reviewer.evaluation.cases import load_cases
from reviewer.evaluation.metrics import criterion_metrics, verdict_metrics
from reviewer.rubric import CRITERION_IDS

CASES = load_cases(Path(__file__).resolve().parents[1] / "evals" / "cases")


def test_at_least_80_cases_with_unique_ids_and_one_line_rationales() -> None:
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.rationale and "\n" not in c.rationale for c in CASES)


def test_every_criterion_is_expected_to_fail_and_to_pass() -> None:
    for cid in CRITERION_IDS:
        statuses = Counter(s for c in CASES for s in c.expect.criteria.get(cid, []) if len(c.expect.criteria[cid]) == 1)
        assert statuses["fail"] >= 1 and statuses["pass"] >= 1, cid


def test_every_verdict_channel_and_kind_of_trap_is_covered() -> None:
    verdicts = Counter(c.expect.verdict[0] for c in CASES if len(c.expect.verdict) == 1)
    assert all(verdicts[v] >= 10 for v in ("send", "revise", "block")), verdicts
    channels = Counter(c.input.context.channel for c in CASES)
    assert all(channels[ch] >= 3 for ch in ("email", "chat", "social", "phone")), channels
    tags = Counter(t for c in CASES for t in c.tags)
    for tag, least in {"hard-negative": 8, "quoted-text": 3, "injection": 4, "facts": 5, "remedies": 4,
                       "customer-message": 6, "repeat-contact": 3, "non-english": 3, "long": 2, "brand": 4}.items():
        assert tags[tag] >= least, tag
    assert sum(bool(c.expect.rewrite.must_keep) for c in CASES) >= 10
    assert sum(bool(c.expect.rewrite.must_not_contain) for c in CASES) >= 20
    assert len({c.input.context.company for c in CASES}) >= 15  # many brands, not one


def _result(expected: list[str], got: str) -> dict[str, object]:
    return {"verdict": {"expected": ["send"], "got": "send"},
            "criteria": {"no-fake-apology": {"expected": expected, "got": got}}}


def test_fail_is_the_positive_class_and_gold_na_is_left_out() -> None:
    results = [_result(["fail"], "fail"), _result(["fail"], "pass"), _result(["pass"], "fail"),
               _result(["pass"], "pass"), _result(["pass"], "na"), _result(["na"], "fail")]
    scores = criterion_metrics(results)["no-fake-apology"]
    assert (scores["tp"], scores["fn"], scores["fp"], scores["tn"], scores["n"]) == (1, 1, 1, 2, 5)
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5 and scores["f1"] == 0.5
    assert scores["agreement"] == 0.4  # na answered for a gold pass is a disagreement
    assert scores["majority_answer"] == "pass" and scores["majority_agreement"] == 0.6


def test_verdict_confusion_counts_an_acceptable_alternative_on_the_diagonal() -> None:
    results = [{"verdict": {"expected": ["revise", "block"], "got": "block"}},
               {"verdict": {"expected": ["send"], "got": "revise"}}]
    scores = verdict_metrics(results)
    assert scores["accuracy"] == 0.5
    assert scores["confusion"]["block"]["block"] == 1 and scores["confusion"]["send"]["revise"] == 1
    assert scores["per_class"]["revise"]["precision"] == 0.0 and scores["per_class"]["send"]["recall"] == 0.0


def test_the_ci_llm_subset_names_golden_cases() -> None:
    listed = Path(__file__).resolve().parents[1] / "evals" / "ci-llm-cases.txt"
    wanted = [line.strip() for line in listed.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")]
    assert 5 <= len(wanted) <= 20
    assert set(wanted) <= {c.id for c in CASES}
