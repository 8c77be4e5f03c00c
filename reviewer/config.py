"""Settings from the environment (``REVIEWER_*``) and CLI flags, in one place.

Flags win over the environment; the environment wins over the defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "reviewer"


class Settings(BaseSettings):
    """Everything configurable. Read with ``Settings()``; override with ``settings.with_overrides(...)``."""

    model_config = SettingsConfigDict(env_prefix="REVIEWER_", extra="ignore")

    # The model path (issue: LLM reviewer).
    model: str | None = Field(default=None, description="Any litellm model string; unset = default resolution.")
    api_base: str | None = None
    api_key: str | None = None
    fallback_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    model_api_bases: dict[str, str] = Field(
        default_factory=dict,
        description="Per-model API base (JSON in REVIEWER_MODEL_API_BASES), for a fallback on another server: "
        '{"openai/llama3": "http://10.0.0.5:8000/v1", "openai/gpt-4o-mini": ""}; "" = the provider\'s own '
        "endpoint. A model listed here gets neither api_base nor api_key; its key comes from the provider's "
        "usual environment variable.",
    )
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    max_reasks: int = Field(default=2, ge=0, le=5)
    max_rewrite_reasks: int = Field(default=2, ge=0, le=5)
    deadline_s: float = Field(default=120.0, gt=0, description="Overall budget for one review's model calls.")
    prompt: str = "review@v1"
    backoff_initial_s: float = Field(default=0.5, ge=0, description="First transport-retry wait; doubles, with jitter.")
    backoff_max_s: float = Field(default=8.0, ge=0, description="Longest retry wait unless Retry-After says more.")
    json_schema: bool | None = Field(
        default=None, description="Force response_format json_schema (True) or JSON mode (False); None = ask litellm."
    )
    rules_only: bool = Field(default=False, description="Never call a model, even when one is configured.")
    judge: str | None = Field(
        default=None, description="The learned judge: a file from `reviewer train`, or 'none'; unset = the shipped one."
    )

    # The embedded local model.
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    local_model_path: Path | None = None
    local_default: bool = Field(
        default=True, description="Use the embedded model when no model is set and the [local] extra is installed."
    )
    local_threads: int | None = Field(
        default=None, ge=1, le=256, description="CPU threads of the embedded model; unset = all cores but one."
    )

    # The HTTP service.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_concurrency: int = Field(default=4, ge=1)
    queue_limit: int = Field(default=64, ge=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    log_content: bool = False

    @field_validator("fallback_models", "api_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values replaced (CLI flags)."""
        changes = {key: value for key, value in overrides.items() if value is not None}
        return self.model_copy(update=changes)
