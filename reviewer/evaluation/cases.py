"""Eval cases: a review request plus what a careful reviewer should answer.

Golden cases are YAML files under ``evals/cases/`` (a list of cases per file).
Each case says which verdicts are acceptable, the status of the criteria that
matter for it, and assertions on the rewrite. Other case sets (the real-world
dev labels) produce the same :class:`EvalCase` objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reviewer.models import CriterionId, ReviewRequest, Status, Verdict


class CaseError(ValueError):
    """A case file that cannot be read or does not follow the case schema."""


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class RewriteExpect(BaseModel):
    """Assertions on the rewrite; each ``must_contain`` item may be a list of alternatives (any one will do)."""

    model_config = ConfigDict(extra="forbid")

    must_not_contain: list[str] = Field(default_factory=list, description="Case-insensitive substrings.")
    must_contain: list[str | list[str]] = Field(default_factory=list, description="Case-insensitive substrings.")
    must_keep: list[str] = Field(default_factory=list, description="Facts that must survive exactly.")
    max_chars: int | None = Field(default=None, ge=1)

    def is_empty(self) -> bool:
        return not (self.must_not_contain or self.must_contain or self.must_keep or self.max_chars)


class Expect(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: list[Verdict] = Field(min_length=1, description="Acceptable verdicts.")
    criteria: dict[CriterionId, list[Status]] = Field(default_factory=dict)
    rewrite: RewriteExpect = Field(default_factory=RewriteExpect)
    criteria_decide_pass: bool = Field(
        default=True,
        description="Whether a criterion mismatch fails the case (False for labelled real replies, "
        "where criteria are scored in aggregate and the case is its verdict).",
    )

    @field_validator("verdict", mode="before")
    @classmethod
    def _verdict_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("criteria", mode="before")
    @classmethod
    def _criteria_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _as_list(status) for key, status in value.items()}
        return value


class EvalCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=120)
    tags: list[str] = Field(default_factory=list)
    rationale: str = Field(min_length=1)
    input: ReviewRequest
    expect: Expect

    @field_validator("rationale")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("rationale must be one line")
        return value.strip()


def load_cases(path: Path) -> list[EvalCase]:
    """Every case in a YAML file, or in every ``*.yaml`` file of a folder (sorted), with unique ids."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
        if not files:
            raise CaseError(f"{path}: no *.yaml case files")
    elif path.is_file():
        files = [path]
    else:
        raise CaseError(f"{path}: no such file or folder")
    cases: list[EvalCase] = []
    seen: dict[str, Path] = {}
    for file in files:
        for case in _load_file(file):
            if case.id in seen:
                raise CaseError(f"{file}: case id {case.id!r} already used in {seen[case.id]}")
            seen[case.id] = file
            cases.append(case)
    return cases


def _load_file(file: Path) -> list[EvalCase]:
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CaseError(f"{file}: cannot read: {exc}") from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise CaseError(f"{file}: expected a list of cases")
    cases = []
    for index, item in enumerate(data):
        try:
            cases.append(EvalCase.model_validate(item))
        except ValidationError as exc:
            label = item.get("id", f"#{index}") if isinstance(item, dict) else f"#{index}"
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise CaseError(f"{file}: case {label}: {where}: {first['msg']}") from exc
    return cases
