"""The public contract: what a caller sends (`ReviewRequest`) and gets back (`Review`).

The API, the CLI's JSON output, the HTTP service and the eval harness all speak
these models, so changes here are schema changes: bump `SCHEMA_VERSION` — the minor
number for an additive change (a new field old clients may ignore), the major number
for anything that breaks a client (a removed, renamed or retyped field).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reviewer.channels import Channel

# 1.1: `reasons`, `criteria_by_id`, the learned judge's fields, `id`, `rewrite.facts_kept`;
# 1.2: rewrite source/reason/placeholders (all additive)
SCHEMA_VERSION = "1.2"
MAX_DRAFT_CHARS = 20_000
MAX_CUSTOMER_CHARS = 20_000

Verdict = Literal["send", "revise", "block"]
Status = Literal["pass", "fail", "na"]
Severity = Literal["error", "warning", "suggestion"]
TextSource = Literal["draft", "customer_message"]
JudgementSource = Literal["rules", "judge", "model", "rules+model"]
CriterionId = Literal[
    "no-fake-apology",
    "apologizes",
    "owns-it",
    "acknowledges-feelings",
    "stays-professional",
    "understands-issue",
    "offers-solution",
    "next-steps",
    "invites-input",
    "thanks-customer",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Context(_Strict):
    """What the reviewer may know besides the two texts."""

    company: str | None = Field(default=None, max_length=200)
    agent_name: str | None = Field(default=None, max_length=200)
    channel: Channel | None = None
    allowed_remedies: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Remedies the agent may offer (e.g. 'refund', 'replacement', '10% discount'). "
        "A rewrite may promise nothing outside these and the draft itself.",
    )
    language: str | None = Field(default=None, max_length=35, description="BCP 47 tag, e.g. 'en', 'de'.")


class ReviewRequest(_Strict):
    """One draft reply to review, with the customer's message it answers."""

    draft: str = Field(description="The reply the agent is about to send (1-20,000 characters after stripping).")
    customer_message: str | None = Field(
        default=None, description="The customer's message the draft answers; the verdict depends on it."
    )
    context: Context = Field(default_factory=Context)

    @field_validator("draft")
    @classmethod
    def _draft_length(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("draft is empty")
        if len(stripped) > MAX_DRAFT_CHARS:
            raise ValueError(f"draft is {len(stripped)} characters; the limit is {MAX_DRAFT_CHARS}")
        return value

    @field_validator("customer_message")
    @classmethod
    def _customer_length(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_CUSTOMER_CHARS:
            raise ValueError(f"customer_message is {len(value)} characters; the limit is {MAX_CUSTOMER_CHARS}")
        return value


class Span(_Strict):
    """Character offsets `[start, end)` into the text named by `source`; `text` is that slice."""

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    source: TextSource = "draft"


class Finding(_Strict):
    """One problem (or strength) found in the draft, with where it is."""

    rule_id: str
    criterion: CriterionId
    severity: Severity
    span: Span | None = None
    message: str
    suggestion: str | None = Field(default=None, description="Replacement text for the span, when there is one.")
    source: JudgementSource = "rules"


class CriterionResult(_Strict):
    """The status of one rubric criterion and why."""

    id: CriterionId
    status: Status
    evidence: list[Span] = Field(default_factory=list)
    explanation: str
    decided: bool = Field(
        default=True,
        description="True when the judging source was confident (a pattern fired or its absence is "
        "conclusive); False when text patterns alone cannot tell and the status is a fallback.",
    )
    source: JudgementSource = "rules"
    probability: float | None = Field(
        default=None, ge=0, le=1, description="The learned judge's probability for this status, when it decided it."
    )


class Rewrite(_Strict):
    """The rewrite returned with a review, checked before it is returned."""

    text: str
    status: Literal["verified", "unverified"]
    problems: list[str] = Field(default_factory=list, description="Why it is unverified; empty when verified.")
    attempts: int = 1
    source: Literal["repair", "model"] = Field(
        default="model",
        description="'repair': the draft edited from the rules' findings (deterministic); "
        "'model': written by the model.",
    )
    reason: str = Field(default="", description="Why this rewrite was returned rather than the other one.")
    placeholders: list[str] = Field(
        default_factory=list, description="Placeholders left for the agent to fill in, e.g. '[time]'."
    )
    facts_kept: list[str] = Field(
        default_factory=list, description="The draft's facts (numbers, amounts, dates, links, names) the rewrite keeps."
    )


class Usage(_Strict):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None
    cached_prompt_tokens: int | None = Field(
        default=None, description="Prompt tokens the provider reused from its cache; null if it does not say."
    )
    draft_tokens: int | None = Field(
        default=None, description="Speculative decoding (llama.cpp servers): tokens guessed ahead; null if none."
    )
    draft_accepted: int | None = Field(default=None, description="Of those, the ones the model kept.")


class Engine(_Strict):
    """How the review was produced, for audits and evals."""

    rules_version: str
    prompt_version: str | None = None
    model: str | None = Field(default=None, description="The model actually used; null for rules only.")
    mode: Literal["rules", "llm"] = "rules"
    degraded: bool = False
    degraded_reason: str | None = None
    latency_ms: float = 0.0
    attempts: int = 0
    reasks: int = 0
    fallbacks_used: int = 0
    dropped_quotes: int = Field(default=0, description="Model evidence quotes not found in the draft.")
    model_criteria: dict[CriterionId, Status] | None = Field(
        default=None,
        description="The model's own status per criterion, before the merge with the rules: its first answer "
        "that judged the criteria, even one rejected for another field; null when no model judged them.",
    )
    judge: str | None = Field(default=None, description="The learned judge used (file name and version); null if none.")
    verdict_source: Literal["rules", "judge"] = Field(
        default="rules", description="Who decided the verdict: the rules, or the learned judge (sure enough to decide)."
    )
    verdict_probability: float | None = Field(
        default=None, ge=0, le=1, description="The learned judge's probability for its verdict, when it ran."
    )
    usage: Usage = Field(default_factory=Usage)


class Reason(_Strict):
    """One thing that moved the verdict away from ``send``: a finding, or a failed gating criterion.

    A failed gating criterion is a reason of its own only when no finding on it already is.
    """

    kind: Literal["finding", "criterion"]
    id: str = Field(description="The finding's rule id, or the criterion id for a failed criterion.")
    criterion: CriterionId
    leads_to: Literal["block", "revise"] = Field(
        description="The verdict this reason alone leads to: an error finding blocks; a warning or a failed "
        "gating criterion means revise."
    )
    message: str
    text: str | None = Field(
        default=None, description="The exact words the reason points at (the span's text); null for an absence."
    )
    span: Span | None = None
    source: JudgementSource = "rules"


class Review(_Strict):
    """The answer: a verdict, per-criterion results, findings with spans, and maybe a rewrite."""

    schema_version: str = SCHEMA_VERSION
    id: str | None = Field(
        default=None,
        description="Set by the service when it stores reviews (REVIEWER_DB): the review_id to send feedback with.",
    )
    verdict: Verdict
    score: int = Field(ge=0, le=100)
    summary: str = ""
    criteria: list[CriterionResult]
    findings: list[Finding]
    reasons: list[Reason] = Field(
        default_factory=list,
        description="Why the verdict is what it is, most severe first: the error findings (block), then the "
        "warning findings and the failed gating criteria no finding explains (revise). Empty for send.",
    )
    criteria_by_id: dict[CriterionId, CriterionResult] = Field(
        default_factory=dict, description="The same results as `criteria`, keyed by criterion id."
    )
    rewrite: Rewrite | None = None
    engine: Engine
