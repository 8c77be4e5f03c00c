"""Settings from CLI flags, the environment (``REVIEWER_*``) and a config file, in one place.

Precedence: flags > environment > config file > defaults. The config file is the first
``reviewer.toml``, or ``pyproject.toml`` with a ``[tool.reviewer]`` table, found in the
working directory or a parent (as ruff and Vale look for theirs); its keys are the field
names below. ``REVIEWER_CONFIG=FILE`` names one explicitly. A key the file does not know
is an error, so a typo never silently leaves a default in place.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings.exceptions import SettingsError

CONFIG_ENV = "REVIEWER_CONFIG"
CONFIG_NAME = "reviewer.toml"
PYPROJECT_TABLE = ("tool", "reviewer")
SECRET_FIELDS = frozenset({"api_key", "api_keys"})


# How the embedded model guesses ahead (reviewer.local.Speculation says what each does).
SpeculativeMode = Literal["ngram", "draft", "none"]

class ConfigFileError(ValueError):
    """A config file that cannot be used: unreadable, not TOML, or with a key no setting has."""


@dataclass(frozen=True)
class ConfigFile:
    """The config file in force: its path and the table holding the settings (``()`` = the whole file)."""

    path: Path
    table: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.path} [{'.'.join(self.table)}]" if self.table else str(self.path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _table(data: dict[str, Any], header: tuple[str, ...]) -> dict[str, Any] | None:
    for key in header:
        inner = data.get(key)
        if not isinstance(inner, dict):
            return None
        data = inner
    return data


def find_config_file(start: Path | None = None) -> ConfigFile | None:
    """``$REVIEWER_CONFIG``, else the nearest ``reviewer.toml`` or ``pyproject.toml`` with ``[tool.reviewer]``."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigFileError(f"{CONFIG_ENV}={explicit}: no such file")
        table = PYPROJECT_TABLE if path.name == "pyproject.toml" else ()
        return ConfigFile(path, table)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return ConfigFile(candidate, ())
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _table(_read_toml(pyproject), PYPROJECT_TABLE) is not None:
            return ConfigFile(pyproject, PYPROJECT_TABLE)
    return None


class _ConfigFileSource(TomlConfigSettingsSource):
    """pydantic-settings' TOML source over the discovered file, refusing keys no setting has."""

    def __init__(self, settings_cls: type[BaseSettings], config: ConfigFile) -> None:
        table = _table(_read_toml(config.path), config.table)
        if table is None:
            raise ConfigFileError(f"{config.label}: no such table")
        unknown = sorted(set(table) - set(settings_cls.model_fields))
        if unknown:
            known = ", ".join(sorted(settings_cls.model_fields))
            raise ConfigFileError(f"{config.label}: unknown setting {unknown[0]!r} (known: {known})")
        super().__init__(settings_cls, toml_file=config.path, toml_table_header=config.table or None)


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "reviewer"


class Settings(BaseSettings):
    """Everything configurable. Read with ``Settings()``; override with ``settings.with_overrides(...)``."""

    model_config = SettingsConfigDict(env_prefix="REVIEWER_", extra="ignore")

    # `reviewer check`: the verdict that makes it exit 1 (a repository's config file can say `revise`).
    fail_on: Literal["block", "revise", "never"] = "block"

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
    cpu_processes: bool = Field(
        default=True, description="Service: run long rules passes in worker processes (one per core), not threads."
    )
    rules_budget_s: float = Field(
        default=2.0, gt=0, description="Time one rules pass may take (queued on the CPU pool included) in async "
        "reviews; beyond it the review is refused (HTTP 503 rules_timeout), never left hanging.",
    )
    backoff_initial_s: float = Field(default=0.5, ge=0, description="First transport-retry wait; doubles, with jitter.")
    backoff_max_s: float = Field(default=8.0, ge=0, description="Longest retry wait unless Retry-After says more.")
    json_schema: bool | None = Field(
        default=None, description="Force response_format json_schema (True) or JSON mode (False); None = ask litellm."
    )
    rules_only: bool = Field(default=False, description="Never call a model, even when one is configured.")
    judge: str | None = Field(
        default=None,
        description="The learned judge: a file from `reviewer train`, 'default' (the shipped one) or 'none' (unset).",
    )

    # The embedded local model.
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    local_model_path: Path | None = None
    local_default: bool = Field(
        default=True, description="Use the embedded model when no model is set and the [local] extra is installed."
    )
    local_threads: int | None = Field(
        default=None, ge=1, le=256, description="CPU threads of the embedded model; unset = every core."
    )
    local_speculative: SpeculativeMode = Field(
        default="ngram",
        description="Speculative decoding of the embedded model: 'ngram' (guesses from the text so far), "
        "'draft' (the 0.5B draft model of the [local-draft] extra) or 'none'.",
    )

    # A running `reviewer serve` that `reviewer check` asks instead of loading a model itself.
    server: str | None = Field(default=None, description="URL of a `reviewer serve`, e.g. http://127.0.0.1:8080.")
    server_key: str | None = Field(default=None, description="API key for that server (one of its API_KEYS).")

    # The HTTP service.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_concurrency: int = Field(default=4, ge=1)
    queue_limit: int = Field(default=64, ge=0)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    log_content: bool = False
    max_head_bytes: int = Field(default=16 * 1024, ge=1024, description="Request line and headers, at most.")
    max_headers: int = Field(default=100, ge=10)
    read_timeout_s: float = Field(
        default=10.0, gt=0, description="From connection (or the last response) to the whole request, body included."
    )
    drain_s: float = Field(
        default=8.0, gt=0, le=300,
        description="On SIGTERM: waiting reviews get 503 at once; running ones get this long to finish (their "
        "model calls are given up a moment before, and they get the rules review, marked degraded).",
    )
    insecure_no_auth: bool = Field(
        default=False, description="Serve /v1/ without API keys on a non-loopback address (--insecure-no-auth)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins whose pages may call the API from a browser (REVIEWER_CORS_ORIGINS, comma-separated), "
        "e.g. a help desk running the composer hook; unset = same origin only.",
    )
    db: Path | None = Field(
        default=None,
        description="SQLite file for reviews and agents' feedback (REVIEWER_DB); unset = nothing stored, no feedback.",
    )

    @field_validator("fallback_models", "api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("judge")
    @classmethod
    def _judge_loads(cls, value: str | None) -> str | None:
        """A judge file that cannot be used fails here, once and in one line, not in every review."""
        if value is not None:
            from reviewer.verdict import current_judge

            current_judge(value)  # JudgeFileError, a ValueError naming the file; 'none' imports no judge code
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_exists(cls, value: str) -> str:
        """An unknown prompt fails here, not as a degraded review every time (its file only: parsing needs YAML)."""
        from reviewer import prompts

        prompts.check(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init arguments, then ``REVIEWER_*``, then the config file (see the module docstring)."""
        config = find_config_file()
        if config is None:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        in_file = _ConfigFileSource(settings_cls, config)
        return init_settings, env_settings, dotenv_settings, in_file, file_secret_settings

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values replaced (CLI flags)."""
        changes = {key: value for key, value in overrides.items() if value is not None}
        return self.model_copy(update=changes)


@dataclass(frozen=True)
class Origin:
    """One setting's effective value and where it came from: ``flag``, ``env REVIEWER_X``, the file, or ``default``."""

    name: str
    value: Any
    source: str


def explain(settings: Settings, flags: dict[str, Any]) -> list[Origin]:
    """Every setting of ``settings`` with the source that set it, by the precedence above.

    ``flags`` are the values given on the command line (None = not given). Secrets are masked.
    """
    env = EnvSettingsSource(Settings)()
    config = find_config_file()
    in_file = set(_table(_read_toml(config.path), config.table) or {}) if config else set()
    origins = []
    for name in Settings.model_fields:
        if flags.get(name) is not None:
            source = "flag"
        elif name in env:
            source = f"env REVIEWER_{name.upper()}"
        elif config is not None and name in in_file:
            source = config.label
        else:
            source = "default"
        value = getattr(settings, name)
        if name in SECRET_FIELDS and value:
            value = "***" if isinstance(value, str) else ["***"] * len(value)
        origins.append(Origin(name, value, source))
    return origins


class SettingsProblem(ValueError):
    """A setting that cannot be used, said in one line (callers exit 2 with it).

    ``flag`` is the settings field when the bad value was given as a command-line flag (the caller knows
    the flag's name), and ``reason`` then says what is wrong with it; None for the environment or a file.
    """

    def __init__(self, message: str, flag: str | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.flag = flag
        self.reason = reason


def load_settings(**flags: Any) -> Settings:
    """``Settings`` from the config file and the environment, with ``flags`` (command-line values by field
    name; None = not given) winning, all validated in one pass; ``SettingsProblem`` in one line when one is bad.

    pydantic-settings raises ``SettingsError`` (with a 40-line traceback behind it) for a value it
    cannot decode, such as malformed JSON in ``REVIEWER_MODEL_API_BASES``, and ``ValidationError``
    for one out of range: both become one line. A flag replaces the environment's value before either is
    checked, so a good flag overrides a bad variable.
    """
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return Settings(**given)
    except ConfigFileError as exc:
        raise SettingsProblem(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        top = str(first["loc"][0]) if first["loc"] else ""
        if top in given:
            raise SettingsProblem(f"invalid {field}: {first['msg']}", flag=top, reason=first["msg"]) from None
        name = "REVIEWER_" + "_".join(str(part) for part in first["loc"]).upper()
        raise SettingsProblem(f"invalid setting {name} ({field} in a config file): {first['msg']}") from None
    except SettingsError as exc:
        named = re.search(r'field "(\w+)"', str(exc))
        name = f"REVIEWER_{named.group(1).upper()}" if named else "a REVIEWER_* variable"
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise SettingsProblem(f"invalid setting {name}: cannot parse its value{cause}") from None
