"""The regression gate: compare a run with its accepted baseline report.

A run fails the gate when a gated metric falls below the baseline by more than
its tolerance (``evals/tolerances.yaml``; the critical criteria default to zero
tolerance) or when a case that passed in the baseline fails now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from reviewer.rubric import BLOCKING_CRITERIA, CRITERION_IDS


class Tolerances(BaseModel):
    """How far (absolute, on a 0-1 scale) each metric may fall below the baseline."""

    model_config = ConfigDict(extra="forbid")

    metrics: dict[str, float] = Field(default_factory=lambda: {
        "verdict.accuracy": 0.02,
        "cases.pass_rate": 0.02,
        "rewrite.pass_rate": 0.05,
        "rewrite.verified_rate": 0.05,
    })
    criteria_default: float = Field(default=0.03, ge=0)
    criteria: dict[str, float] = Field(default_factory=lambda: {str(cid): 0.0 for cid in BLOCKING_CRITERIA})
    criterion_metrics: list[str] = Field(default_factory=lambda: ["f1", "recall"])
    fail_on_case_regression: bool = True

    def for_criterion(self, criterion: str) -> float:
        return self.criteria.get(criterion, self.criteria_default)


def load_tolerances(path: Path | None) -> Tolerances:
    if path is None or not path.is_file():
        return Tolerances()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Tolerances.model_validate(data)


def gated_metrics(report: dict[str, Any], tolerances: Tolerances) -> dict[str, tuple[float | None, float]]:
    """Metric name -> (value, tolerance) for every gated metric of a report."""
    metrics = report["metrics"]
    out: dict[str, tuple[float | None, float]] = {}
    for name, tolerance in tolerances.metrics.items():
        group, _, key = name.partition(".")
        out[name] = (metrics.get(group, {}).get(key), tolerance)
    for cid in CRITERION_IDS:
        scores = metrics["criteria"].get(cid, {})
        for key in tolerances.criterion_metrics:
            out[f"criteria.{cid}.{key}"] = (scores.get(key), tolerances.for_criterion(cid))
    return out


def _rewrite_passed(case: dict[str, Any]) -> bool:
    rewrite = case.get("rewrite", {})
    if "ok" in rewrite:
        return rewrite["state"] == "checked" and bool(rewrite["ok"])
    return rewrite.get("state") == "checked" and all(a["ok"] for a in rewrite.get("assertions", []))


def metrics_on(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The gated metrics recomputed on some cases (those two runs share, when their case sets differ)."""
    from reviewer.evaluation.metrics import criterion_metrics, verdict_metrics

    def ratio(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    checked = [c for c in cases if c.get("rewrite", {}).get("state") in {"checked", "missing"}]
    returned = [c for c in cases if c.get("rewrite_status")]
    return {
        "verdict": {"accuracy": verdict_metrics(cases)["accuracy"]},
        "cases": {"pass_rate": ratio(sum(c["passed"] for c in cases), len(cases))},
        "rewrite": {"pass_rate": ratio(sum(_rewrite_passed(c) for c in checked), len(checked)),
                    "verified_rate": ratio(sum(c["rewrite_status"] == "verified" for c in returned), len(returned))},
        "criteria": criterion_metrics(cases),
    }


def compare_to_baseline(current: dict[str, Any], baseline: dict[str, Any], tolerances: Tolerances) -> dict[str, Any]:
    """Everything that changed between the baseline and this run, and whether the gate passes."""
    old_ids = [c["id"] for c in baseline.get("cases", [])]
    new_ids = [c["id"] for c in current.get("cases", [])]
    shared = set(old_ids) & set(new_ids)
    compared_on: int | None = None
    if set(old_ids) != set(new_ids) and shared:
        # Added or removed cases would move every rate: compare the metrics on the cases both runs share.
        compared_on = len(shared)
        current = {**current, "metrics": metrics_on([c for c in current["cases"] if c["id"] in shared])}
        baseline = {**baseline, "metrics": metrics_on([c for c in baseline["cases"] if c["id"] in shared])}
    now = gated_metrics(current, tolerances)
    before = gated_metrics(baseline, tolerances)
    drops, changes = [], []
    for name, (value, tolerance) in now.items():
        old = before.get(name, (None, tolerance))[0]
        if old is None or value is None or old == value:
            continue
        delta = round(value - old, 4)
        entry = {"metric": name, "baseline": old, "current": value, "delta": delta, "tolerance": tolerance}
        changes.append(entry)
        if delta < -tolerance - 1e-9:
            drops.append(entry)
    old_cases = {c["id"]: c for c in baseline.get("cases", [])}
    new_cases = {c["id"]: c for c in current.get("cases", [])}
    regressions = [
        {"id": cid, "failures": case["failures"]}
        for cid, case in new_cases.items()
        if cid in old_cases and old_cases[cid]["passed"] and not case["passed"]
    ]
    fixed = [cid for cid, case in new_cases.items()
             if cid in old_cases and not old_cases[cid]["passed"] and case["passed"]]
    failed = bool(drops) or (tolerances.fail_on_case_regression and bool(regressions))
    run_now, run_then = current.get("run", {}), baseline.get("run", {})
    differs = [f"{key}: baseline {run_then.get(key)!r}, now {run_now.get(key)!r}"
               for key in ("case_set", "model", "prompt", "prompt_hash", "rules_version")
               if run_then.get(key) != run_now.get(key)]
    return {
        "passed": not failed,
        "baseline": {key: baseline.get("run", {}).get(key) for key in ("case_set", "model", "prompt", "prompt_hash")},
        "metric_drops": drops,
        "metric_changes": changes,
        "case_regressions": regressions,
        "cases_fixed": fixed,
        "cases_added": sorted(set(new_cases) - set(old_cases)),
        "cases_removed": sorted(set(old_cases) - set(new_cases)),
        "run_differs": differs,
        "compared_on": compared_on,
    }
