"""What the model must return: the pydantic models the JSON schema and the validation come from.

One object keyed by criterion id (so a schema-constrained decoder can't skip or
repeat a criterion), a one-line summary and a rewrite. The rewrite re-ask asks
for ``RewriteOnly`` instead, so a model fixing its rewrite doesn't re-judge.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from reviewer.models import CriterionId
from reviewer.rubric import CRITERIA, attribute_name

MAX_QUOTES = 5
MAX_QUOTE_CHARS = 300


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CriterionJudgement(_Closed):
    """The model's judgement of one criterion, with short quotes from the draft as evidence."""

    status: Literal["pass", "fail", "na"]
    quotes: list[str] = Field(max_length=MAX_QUOTES, description="Exact short quotes copied from the draft.")
    explanation: str = Field(max_length=600)


class _Criteria(_Closed):
    def by_id(self) -> dict[CriterionId, CriterionJudgement]:
        """The judgements keyed by rubric criterion id."""
        return {c.id: getattr(self, attribute_name(c.id)) for c in CRITERIA}


# One required field per rubric criterion, in the rubric's order, named by its id: generated from
# reviewer.rubric.CRITERIA so the model's schema can never disagree with the rubric.
ModelCriteria: type[_Criteria] = create_model(
    "ModelCriteria",
    __base__=_Criteria,
    **{  # type: ignore[call-overload]
        attribute_name(c.id): (CriterionJudgement, Field(alias=c.id) if attribute_name(c.id) != c.id else ...)
        for c in CRITERIA
    },
)


class ModelReview(_Closed):
    """The whole answer to the review prompt."""

    criteria: ModelCriteria
    summary: str = Field(max_length=600)
    rewrite: str = Field(min_length=1, max_length=20_000)


class SummaryAndRewrite(_Closed):
    """The answer to a prompt with ``output: rewrite`` (small models): the rules judge, the model rewrites."""

    summary: str = Field(max_length=600)
    rewrite: str = Field(min_length=1, max_length=20_000)


class RewriteOnly(_Closed):
    """The answer to a rewrite re-ask."""

    rewrite: str = Field(min_length=1, max_length=20_000)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema the model is asked to follow (aliases, closed objects)."""
    return model.model_json_schema(by_alias=True)
