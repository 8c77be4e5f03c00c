"""Request and response bodies that exist only in the HTTP API (reviews themselves are ``reviewer.models``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reviewer.models import Review, ReviewRequest
from reviewer.service.errors import ErrorBody

MAX_BATCH = 50


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[ReviewRequest] = Field(min_length=1, max_length=MAX_BATCH, description=f"1-{MAX_BATCH} reviews.")


class BatchItem(BaseModel):
    """Exactly one of ``review`` and ``error`` is set."""

    index: int = Field(ge=0, description="Position of the request in the batch.")
    review: Review | None = None
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    results: list[BatchItem] = Field(description="One item per request, in the order sent.")


class CriterionInfo(BaseModel):
    id: str
    title: str
    description: str
    weight: int
    gating: bool = Field(description="Failing it alone makes the verdict 'revise'.")


class CriteriaResponse(BaseModel):
    criteria: list[CriterionInfo]


class PromptInfo(BaseModel):
    ref: str = Field(description="id@version, as REVIEWER_PROMPT names it.")
    id: str
    version: str
    sha256: str = Field(description="Hash of the prompt file's content.")
    description: str | None = None
    lock: str | None = Field(default=None, description="'locked', 'new' or 'CHANGED' against the prompt lock file.")


class PromptsResponse(BaseModel):
    default: str = Field(description="The prompt this server uses (REVIEWER_PROMPT).")
    prompts: list[PromptInfo]
    available: bool = Field(description="False when the prompt catalogue could not be loaded.")
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: Literal["ready"] = "ready"
    mode: Literal["rules", "llm"]
    model: str | None = None
    probe: str = Field(description="What was checked to decide readiness.")
