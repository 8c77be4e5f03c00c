"""Trust profiles: per model and criterion, whose judgement the review uses, chosen from measurements.

A profile is data (``evals/trust/<model>.yaml``). For each criterion it says:

- ``rules``: the rules engine's result only; the model's view of it is ignored;
- ``rules_then_model``: the rules decide wherever they can; the model fills in only
  where they abstain (``decided=False``), marked ``source="model"``; the model may add
  a finding but never clears a confident rule's;
- ``model``: the model's status, even over a decided rule (the rules' findings still stand).

Each choice is written down with the agreement that justified it. A model without
a profile (or a profile measured with another prompt) gets the conservative one:
``rules_then_model`` everywhere. :mod:`reviewer.evaluation.trust_suggest` proposes a
profile from an eval run on labelled cases (``reviewer eval --suggest-trust``).
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewer.merge import Trust
from reviewer.rubric import CRITERION_IDS

TrustLevel = Trust  # the merge's levels, as profiles write them
LEVELS: tuple[TrustLevel, ...] = get_args(Trust)  # most conservative first, as the merge declares them
PROFILE_DIR_ENV = "REVIEWER_TRUST_DIR"
CONSERVATIVE_NAME = "conservative"


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
