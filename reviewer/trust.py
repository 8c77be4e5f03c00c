"""Trust profiles: per model and criterion, whose judgement the review uses, chosen from measurements.

A profile is data (``evals/trust/<model>.yaml``). For each criterion it says:

- ``rules``: the rules engine's result only; the model's view of it is ignored;
- ``rules_then_model``: the rules decide wherever they can; the model fills in only
  where they abstain (``decided=False``), marked ``source="model"``; the model may add
  a finding but never clears a confident rule's;
- ``model``: the model's status, even over a decided rule (the rules' findings still stand).

Each choice is written down with the agreement that justified it. A model without
a profile (or a profile measured with another prompt) gets the conservative one:
``rules_then_model`` everywhere. :func:`suggest` proposes a profile from an eval run
on labelled cases (``reviewer eval --suggest-trust``).
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewer.merge import Trust
from reviewer.rubric import CRITERION_IDS, verdict_for

TrustLevel = Trust  # the merge's levels, as profiles write them
LEVELS: tuple[TrustLevel, ...] = get_args(Trust)  # most conservative first, as the merge declares them
PROFILE_DIR_ENV = "REVIEWER_TRUST_DIR"
CONSERVATIVE_NAME = "conservative"

# What --suggest-trust asks before it lets a model decide more: enough labelled cases, and a real gain.
MIN_CASES = 20
MIN_GAIN = 0.02


class TrustError(ValueError):
    """A profile that can't be read or doesn't validate; the message names the file and the problem."""


class CriterionTrust(BaseModel):
    """The choice for one criterion and the numbers behind it (agreement with the labels, 0-1)."""

    model_config = ConfigDict(extra="forbid")

    trust: TrustLevel
    n: int | None = Field(default=None, ge=0, description="Labelled cases the agreement was measured on.")
    agreement: dict[str, float | None] = Field(
        default_factory=dict, description="rules / model / rules_then_model / majority agreement on the dev set.")
    why: str = ""


class TrustProfile(BaseModel):
    """One model's trust profile."""

    model_config = ConfigDict(extra="forbid")

    model: str
    aliases: list[str] = Field(default_factory=list, description="Other names the same model is called by.")
    prompt: str | None = Field(default=None, description="The prompt the numbers were measured with; "
                               "another prompt gets the conservative profile.")
    measured: dict[str, Any] = Field(default_factory=dict, description="Where and how the numbers were measured.")
    verdict: dict[str, float | None] = Field(
        default_factory=dict, description="Verdict agreement of rules / model / merged / majority under this profile.")
    criteria: dict[str, CriterionTrust]

    @field_validator("criteria")
    @classmethod
    def _all_ten(cls, value: dict[str, CriterionTrust]) -> dict[str, CriterionTrust]:
        unknown = sorted(set(value) - set(CRITERION_IDS))
        missing = [cid for cid in CRITERION_IDS if cid not in value]
        if unknown:
            raise ValueError(f"unknown criteria: {', '.join(unknown)}")
        if missing:
            raise ValueError(f"missing criteria: {', '.join(missing)}")
        return {cid: value[cid] for cid in CRITERION_IDS}

    def names(self) -> set[str]:
        return {self.model, *self.aliases}

    def levels(self) -> dict[str, TrustLevel]:
        """Criterion id -> level: the trust map :func:`reviewer.merge.merge` reads."""
        return {cid: entry.trust for cid, entry in self.criteria.items()}


def conservative(model: str = "*") -> TrustProfile:
    """Rules decide wherever they can; the model fills only what they can't."""
    why = "no measured profile for this model: the rules decide wherever they can, the model fills the rest"
    return TrustProfile(model=model, criteria={cid: CriterionTrust(trust="rules_then_model", why=why)
                                               for cid in CRITERION_IDS},
                        measured={"profile": CONSERVATIVE_NAME})


def load_profile(path: Path) -> TrustProfile:
    """Read and validate one profile file."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TrustError(f"{path}: cannot read trust profile: {exc}") from exc
    if not isinstance(data, dict):
        raise TrustError(f"{path}: a trust profile is a mapping with 'model' and 'criteria'")
    try:
        return TrustProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "profile"
        raise TrustError(f"{path}: {where}: {first['msg']}") from exc


def profile_dir() -> Path:
    """``REVIEWER_TRUST_DIR``, else ``evals/trust`` of this checkout, else the profiles shipped in the package.

    The package ships ``evals/trust/*.yaml`` as ``reviewer._trust``, so a plain install (and the
    Docker image) uses the measured profiles too, not only a source checkout.
    """
    env = os.environ.get(PROFILE_DIR_ENV)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[1] / "evals" / "trust"
    if checkout.is_dir():
        return checkout
    try:
        return Path(str(importlib.resources.files("reviewer._trust")))
    except ModuleNotFoundError:
        return checkout


@lru_cache(maxsize=8)
def _profiles(folder: Path) -> tuple[TrustProfile, ...]:
    if not folder.is_dir():
        return ()
    return tuple(load_profile(path) for path in sorted(folder.glob("*.yaml")))


def load_profiles(folder: Path | None = None) -> tuple[TrustProfile, ...]:
    """Every profile in ``folder`` (default :func:`profile_dir`); raises :class:`TrustError` on a bad one."""
    return _profiles((folder or profile_dir()).resolve())


@dataclass(frozen=True)
class Choice:
    profile: TrustProfile
    reason: str

    @property
    def name(self) -> str:
        return str(self.profile.measured.get("profile", self.profile.model))


def choose(model: str, prompt: str | None, folder: Path | None = None) -> Choice:
    """The profile for ``model`` under ``prompt``; the conservative one when none applies (and why)."""
    try:
        profiles = load_profiles(folder)
    except TrustError as exc:  # a broken profile must not break reviews: fall back, say why
        return Choice(conservative(model), f"conservative: {exc}")
    for profile in profiles:
        if model in profile.names():
            if profile.prompt is not None and prompt is not None and profile.prompt != prompt:
                return Choice(conservative(model),
                              f"conservative: the profile of {profile.model} was measured with prompt "
                              f"{profile.prompt}, not {prompt}")
            return Choice(profile, f"measured profile of {profile.model}")
    return Choice(conservative(model), f"conservative: no trust profile for {model}")


def trust_map_for(model: str, prompt: str | None) -> dict[str, Trust]:
    """What the engine passes to the merge for a review answered by ``model`` with ``prompt``."""
    return choose(model, prompt).profile.levels()


# -- measuring and suggesting ---------------------------------------------------------------------

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
