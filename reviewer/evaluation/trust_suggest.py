"""Suggesting a trust profile from an eval run on labelled cases (``reviewer eval --suggest-trust``).

For each criterion: how often the rules alone, the model alone, or the rules then the model
agree with the labels; the merged verdict each choice would give (the rubric's rule,
:func:`reviewer.rubric.verdict_for`); and the profile that takes the model's word only where
it measurably helps. The profile it writes is read at review time by :mod:`reviewer.trust`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from reviewer.rubric import CRITERION_IDS, verdict_for
from reviewer.trust import LEVELS, CriterionTrust, TrustError, TrustLevel, TrustProfile

# What --suggest-trust asks before it lets a model decide more: enough labelled cases, and a real gain.
MIN_CASES = 20
MIN_GAIN = 0.02


def _case_status(entry: dict[str, Any], level: TrustLevel) -> str | None:
    """The status the merged review would give one criterion of one case under ``level``."""
    rules: str | None = entry.get("rules")
    model: str | None = entry.get("model")
    if level == "rules" or model is None:
        return rules
    if level == "model":
        return model
    return rules if entry.get("rules_decided", True) else model


def simulate_verdict(case: dict[str, Any], levels: dict[str, TrustLevel]) -> str | None:
    """The merged verdict of one eval case under ``levels`` (:func:`reviewer.rubric.verdict_for`), from its
    report entry; the model's findings never move it."""
    if "rules_verdict" not in case or "findings" not in case:
        return None
    severities = [f["severity"] for f in case.get("findings", []) if f.get("source") != "model"]
    failed = [cid for cid in CRITERION_IDS if (entry := case["criteria"].get(cid)) is not None
              and _case_status(entry, levels.get(cid, "rules_then_model")) == "fail"]
    return verdict_for(severities, failed)


def _labelled(entry: dict[str, Any]) -> bool:
    expected = entry["expected"]
    return expected != ["na"] and not ("fail" in expected and len(expected) > 1)


def criterion_agreement(cases: Iterable[dict[str, Any]], cid: str, level: TrustLevel) -> tuple[float | None, int]:
    """Agreement with the labels of one criterion under ``level`` (gold ``na`` left out), and n."""
    agree = n = 0
    for case in cases:
        entry = case["criteria"].get(cid)
        if entry is None or "rules" not in entry or not _labelled(entry):
            continue
        got = _case_status(entry, level)
        if got is None:
            continue
        n += 1
        agree += got in entry["expected"]
    return (round(agree / n, 4) if n else None), n


def verdict_agreement(cases: Iterable[dict[str, Any]], levels: dict[str, TrustLevel]) -> float | None:
    hits = total = 0
    for case in cases:
        got = simulate_verdict(case, levels)
        if got is None:
            continue
        total += 1
        hits += got in case["verdict"]["expected"]
    return round(hits / total, 4) if total else None


def suggest(report: dict[str, Any], min_cases: int = MIN_CASES, min_gain: float = MIN_GAIN) -> TrustProfile:
    """A profile from a model run on labelled cases (``report.json`` of ``reviewer eval``).

    Per criterion, the most conservative level unless a less conservative one agrees with
    the labels better by at least ``min_gain`` on at least ``min_cases`` labelled cases.
    Then the verdict floor: while the merged verdict agreement is below the rules alone or
    the majority answer, the criterion whose demotion helps the verdict most is demoted.
    """
    run, metrics = report["run"], report["metrics"]
    cases = [c for c in report["cases"] if c.get("error") is None and "rules_verdict" in c]
    if not cases or "sources" not in metrics:
        raise TrustError("--suggest-trust needs a model run (rules alone, model alone and merged per case)")
    criteria: dict[str, CriterionTrust] = {}
    levels: dict[str, TrustLevel] = {}
    for cid in CRITERION_IDS:
        scores = {level: criterion_agreement(cases, cid, level) for level in LEVELS}
        n = scores["rules"][1]
        majority = metrics["criteria"][cid].get("majority_agreement")
        choice: TrustLevel = "rules"
        if n < min_cases:
            why = f"only {n} labelled cases: too few to trust the model"
        else:
            why = "the model does not beat the rules by the margin"
            for level in LEVELS[1:]:
                best, gain = scores[choice][0] or 0.0, (scores[level][0] or 0.0) - (scores[choice][0] or 0.0)
                if gain >= min_gain:
                    choice, why = level, f"{level} agrees {gain:+.3f} better than the previous choice ({best:.3f})"
        levels[cid] = choice
        criteria[cid] = CriterionTrust(
            trust=choice, n=n, why=why,
            agreement={**{level: scores[level][0] for level in LEVELS}, "majority": majority})
    rules_only: dict[str, TrustLevel] = dict.fromkeys(CRITERION_IDS, "rules")
    floor = max(verdict_agreement(cases, rules_only) or 0.0, metrics["majority_verdict"]["accuracy"] or 0.0)
    while (verdict_agreement(cases, levels) or 0.0) < floor:
        candidates = [cid for cid in CRITERION_IDS if levels[cid] != "rules"]
        if not candidates:  # the rules alone are below the majority answer: nothing left to demote
            break
        cid = max(candidates, key=lambda c: verdict_agreement(cases, {**levels, c: _demote(levels[c])}) or 0.0)
        levels[cid] = _demote(levels[cid])
        criteria[cid].trust = levels[cid]
        criteria[cid].why += f"; demoted to {levels[cid]} to keep the verdict at or above the floor"
    by_level: dict[str, float | None] = {}
    for level in LEVELS:
        by_level[level] = verdict_agreement(cases, {cid: level for cid in CRITERION_IDS})
    return TrustProfile(
        model=run["model"],
        prompt=run.get("prompt"),
        measured={
            "case_set": run["case_set"], "cases": len(cases), "mode": run.get("mode"),
            "prompt_hash": run.get("prompt_hash"), "rules_version": run.get("rules_version"),
            "suggested_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "min_cases": min_cases, "min_gain": min_gain,
        },
        verdict={"rules": by_level["rules"], "model": metrics["sources"]["verdict"].get("model"),
                 "conservative": by_level["rules_then_model"], "merged": verdict_agreement(cases, levels),
                 "majority": metrics["majority_verdict"]["accuracy"]},
        criteria=criteria,
    )


def _demote(level: TrustLevel) -> TrustLevel:
    return LEVELS[max(0, LEVELS.index(level) - 1)]


def dump_profile(profile: TrustProfile) -> str:
    """YAML for ``evals/trust/<model>.yaml``: the choices first, the numbers beside them."""
    import yaml

    data = profile.model_dump(exclude_defaults=False)
    head = (f"# Trust profile of {profile.model}: per criterion, whose judgement the review uses\n"
            "# (rules | rules_then_model | model), with the agreement on labelled cases that justified it.\n"
            "# Proposed by `reviewer eval --suggest-trust`; see README, section evals, 'Model trust'.\n")
    return head + str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))
