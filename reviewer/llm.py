"""One structured model call, made robust: schema, re-ask, transport retries, deadline, usage.

``ModelCaller.ask(model, messages, output_model)`` returns a validated pydantic
object or raises :class:`ModelFailed`. What it does when the model misbehaves:

- **invalid output** (no JSON, prose around it, truncated JSON, schema violation):
  re-ask, sending back the model's own answer and *one* exact error. The
  conversation never grows: each re-ask is the original messages + the latest bad
  answer + its error. At most ``settings.max_reasks`` re-asks, then ModelFailed.
- **transport errors** (429, 408/409/425, 5xx, timeouts, connection errors): retried with
  tenacity, exponential backoff with jitter (``settings.backoff_initial_s`` ..
  ``backoff_max_s``), a ``Retry-After`` header honoured as the wait, at most
  ``settings.max_retries`` retries per call, all within the overall deadline
  (``settings.deadline_s`` for one review); a wait that would pass the deadline
  gives up at once. Other errors (400, 401, 404, a replay miss...) fail at once.
- Falling back to the next model is the caller's job (the engine); how a model string
  reaches its provider (and what an answer cost) is :mod:`reviewer.providers`.

Record/replay and tests can inject the function that performs a completion:
anything matching :class:`Completion` (``async (**kwargs) -> ModelResponse``, the
same keyword arguments as ``litellm.acompletion``), passed as ``completion=`` to
:class:`ModelCaller` (and to ``reviewer.engine.areview``). The default is
``litellm.acompletion``. litellm is imported only when a call is made.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from reviewer import providers
from reviewer.config import Settings
from reviewer.llm_output import json_schema

T = TypeVar("T", bound=BaseModel)

MAX_ECHOED_ANSWER_CHARS = 8_000
TRANSIENT_STATUS = frozenset({408, 409, 425, 429})


class Completion(Protocol):
    """The function that performs one chat completion: ``litellm.acompletion``'s keyword arguments and result."""

    async def __call__(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class PromptMessages:
    """A request's messages both ways: ``plain`` for a provider that takes the JSON schema as
    ``response_format``, ``with_schema`` with the schema written into the prompt (JSON mode)."""

    plain: list[dict[str, str]]
    with_schema: list[dict[str, str]]


class ModelFailed(Exception):
    """This model could not give a valid answer (transport or output); the reason is the message."""


class InvalidOutput(ValueError):
    """The answer could not be parsed or validated; the message is the one error fed back to the model."""


@dataclass
class CallStats:
    """What the calls of one review cost, summed over every model tried."""

    attempts: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cached_prompt_tokens: int | None = None
    draft_tokens: int | None = None
    draft_accepted: int | None = None
    retry_waits: list[float] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # every answer's raw text, in order (valid or not)

    def add_usage(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
            cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None)
            if isinstance(cached, int):
                self.cached_prompt_tokens = (self.cached_prompt_tokens or 0) + cached
        # llama.cpp's servers add their own "timings", with the speculative decoding counts when it guessed ahead
        timings = getattr(response, "timings", None)
        if isinstance(timings, dict) and isinstance(timings.get("draft_n"), int):
            self.draft_tokens = (self.draft_tokens or 0) + timings["draft_n"]
            self.draft_accepted = (self.draft_accepted or 0) + int(timings.get("draft_n_accepted") or 0)
        cost = providers.response_cost(response)
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost


def portable_schema(schema: Any, names: bool = False) -> Any:
    """The schema without keywords that strict structured-output modes reject (lengths, counts, titles).

    pydantic still enforces them on the answer; a violation is re-asked like any other.
    ``names`` is True for a mapping of property names, whose keys are never keywords.
    """
    if isinstance(schema, dict):
        return {
            key: portable_schema(value, names=key in ("properties", "$defs") and not names)
            for key, value in schema.items()
            if names or key not in _UNPORTABLE
        }
    if isinstance(schema, list):
        return [portable_schema(value) for value in schema]
    return schema


_UNPORTABLE = frozenset({"maxLength", "minLength", "maxItems", "minItems", "title", "default"})


# -- parsing -----------------------------------------------------------------------------------

def extract_json(text: str) -> Any:
    """The JSON value in a model answer, tolerating code fences and prose around one object."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped.removeprefix("json").strip()
    try:
        return json.loads(stripped)
    except ValueError:
        pass
    start = stripped.find("{")
    if start < 0:
        raise InvalidOutput("the answer contains no JSON object; answer with the JSON object only")
    try:
        value, _ = json.JSONDecoder().raw_decode(stripped[start:])
    except json.JSONDecodeError as exc:
        raise InvalidOutput(
            f"the JSON is invalid or incomplete ({exc.msg} at character {exc.pos} of the object); "
            "answer with the complete JSON object only"
        ) from exc
    return value


def first_error(exc: ValidationError) -> str:
    """One validation error, as an exact, readable sentence for the re-ask."""
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "the object"
    return f"{where}: {error['msg']} (got {json.dumps(error.get('input'), default=str)[:200]})"


def parse_answer(content: str | None, output_model: type[T]) -> T:
    """Parse and validate one answer; raises InvalidOutput with one exact error."""
    if not content or not content.strip():
        raise InvalidOutput("the answer was empty; answer with the JSON object only")
    value = extract_json(content)
    try:
        return output_model.model_validate(value)
    except ValidationError as exc:
        raise InvalidOutput(f"the JSON does not match the schema: {first_error(exc)}") from exc


def reask_messages(base: list[dict[str, str]], bad_answer: str, error: str) -> list[dict[str, str]]:
    """The conversation for a re-ask: the original messages, the latest bad answer, its one error."""
    echoed = bad_answer if len(bad_answer) <= MAX_ECHOED_ANSWER_CHARS else bad_answer[:MAX_ECHOED_ANSWER_CHARS] + "…"
    return [
        *base,
        {"role": "assistant", "content": echoed},
        {
            "role": "user",
            "content": f"That answer was not usable: {error}. "
            "Reply again with the whole corrected JSON object, and nothing else.",
        },
    ]


# -- transport errors --------------------------------------------------------------------------

def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying the same model: rate limits, server errors, timeouts, broken connections."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | ConnectionError):
        return True
    name = type(exc).__name__
    if name in {"Timeout", "APIConnectionError", "APITimeoutError", "ServiceUnavailableError",
                "InternalServerError", "RateLimitError", "BadGatewayError"}:
        return True
    status = status_of(exc)
    return status is not None and (status in TRANSIENT_STATUS or status >= 500)


def retry_after_s(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` (seconds or HTTP date) carried by a litellm/openai exception, if any."""
    sources = [getattr(exc, "litellm_response_headers", None), getattr(exc, "headers", None),
               getattr(getattr(exc, "response", None), "headers", None)]
    for headers in sources:
        value = headers.get("retry-after") if headers is not None and hasattr(headers, "get") else None
        if value is not None:
            return parse_retry_after(str(value))
    return None


def parse_retry_after(value: str) -> float | None:
    """``"2"`` -> 2.0; an HTTP date -> seconds from now (0 if past); anything else -> None."""
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def describe_error(exc: BaseException) -> str:
    """A failed call in a few words: error class, HTTP status, provider; never the error's own text.

    The text comes from the upstream server and reaches the API caller in ``engine.degraded_reason``:
    an upstream that echoes the request (its ``Authorization`` header, the prompt) would leak the
    provider key or the customer's words. The class and status say what happened; the text stays out
    (except for this package's own errors, whose text we wrote).
    """
    status = status_of(exc)
    provider = getattr(exc, "llm_provider", None)
    parts = [type(exc).__name__]
    if status:
        parts.append(str(status))
    if isinstance(provider, str) and provider.isidentifier():
        parts.append(f"from {provider}")
    if type(exc).__module__.startswith("reviewer."):  # our own errors (the local model's) say nothing secret
        parts.append(f"({str(exc)[:200]})")
    return " ".join(parts)


# -- the caller --------------------------------------------------------------------------------

class Deadline:
    """The overall time budget of one review's model calls."""

    def __init__(self, seconds: float) -> None:
        self.ends_at = time.monotonic() + seconds

    @property
    def remaining(self) -> float:
        return max(0.0, self.ends_at - time.monotonic())


class _GiveUp(Exception):
    """A wait that would pass the deadline: stop retrying now."""


class ModelCaller:
    """Calls models for one review, sharing its deadline and stats."""

    def __init__(
        self,
        settings: Settings,
        completion: Completion | None = None,
        deadline: Deadline | None = None,
        stats: CallStats | None = None,
    ) -> None:
        self.settings = settings
        self._completion = completion
        self.deadline = deadline or Deadline(settings.deadline_s)
        self.stats = stats or CallStats()

    async def _complete(self, **kwargs: Any) -> Any:
        if self._completion is not None:
            return await self._completion(**kwargs)
        from reviewer import litellm_quiet

        return await litellm_quiet.load().acompletion(**kwargs)

    async def ask(
        self,
        model: str,
        messages: PromptMessages,
        output_model: type[T],
        schema_name: str,
        params: dict[str, Any] | None = None,
    ) -> tuple[T, str]:
        """A validated answer from ``model`` and its raw text; re-asks on invalid output; raises ModelFailed.

        ``messages`` are the base messages both ways (:class:`PromptMessages`): the call
        chooses which one the provider gets.
        """
        try:
            litellm_model, connection, schema_support = await providers.route(model, self.settings)
        except Exception as exc:  # e.g. the local model's weights are missing or fail their hash check
            raise ModelFailed(f"cannot reach the model: {describe_error(exc)}") from exc
        schema = json_schema(output_model)
        if providers.wants_json_schema(self.settings, litellm_model, connection.get("api_base"), schema_support):
            response_format: dict[str, Any] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": portable_schema(schema), "strict": True},
            }
            base: list[dict[str, str]] = messages.plain
        else:
            response_format = {"type": "json_object"}
            base = messages.with_schema
        sent = base
        last_error = ""
        for reask in range(self.settings.max_reasks + 1):
            if reask:
                self.stats.reasks += 1
            call = {"model": litellm_model, **connection, **(params or {})}
            try:
                content = await self._call_with_retries(messages=sent, response_format=response_format, **call)
            except ModelFailed as exc:
                if response_format["type"] != "json_schema" or status_of(exc.__cause__ or exc) != 400:
                    raise
                # The server rejected the schema-constrained request: ask again in JSON mode, schema in the prompt.
                response_format = {"type": "json_object"}
                base = sent = messages.with_schema
                content = await self._call_with_retries(messages=sent, response_format=response_format, **call)
            self.stats.answers.append(content or "")
            try:
                return parse_answer(content, output_model), content or ""
            except InvalidOutput as exc:
                last_error = str(exc)
                sent = reask_messages(base, content or "", last_error)
        raise ModelFailed(f"no valid answer after {self.settings.max_reasks} re-asks; last error: {last_error}")

    async def _call_with_retries(self, **kwargs: Any) -> str | None:
        """One completion, retried on transient errors within the deadline; returns the message content."""
        # imported here: the rules-only path (reviewer check's cold start) must not load tenacity
        from tenacity import (
            AsyncRetrying,
            RetryCallState,
            retry_if_exception,
            stop_after_attempt,
            wait_exponential_jitter,
        )

        if self._completion is None:
            from reviewer import litellm_quiet

            litellm_quiet.load()  # imported before any timer starts: a cold import is not the model's slowness
        settings = self.settings
        exponential = wait_exponential_jitter(
            multiplier=settings.backoff_initial_s, jitter=settings.backoff_initial_s, max=settings.backoff_max_s
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            told = retry_after_s(exc) if exc is not None else None
            seconds = told if told is not None else float(exponential(state))
            if seconds >= self.deadline.remaining:
                last = describe_error(exc) if exc is not None else "a failed attempt"
                raise _GiveUp(f"{last}; retrying in {seconds:.1f}s would pass the review's deadline")
            self.stats.retry_waits.append(seconds)
            return seconds

        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.max_retries + 1),
            wait=wait,
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    remaining = self.deadline.remaining
                    if remaining <= 0:
                        raise _GiveUp("the review's deadline has passed")
                    timeout = min(settings.timeout_s, remaining)
                    self.stats.attempts += 1
                    async with asyncio.timeout(timeout + 5.0):  # backstop if a client ignores its timeout
                        response = await self._complete(
                            **kwargs, timeout=timeout, num_retries=0, max_retries=0, stream=False, drop_params=True
                        )
                    self.stats.add_usage(response)
                    return _content(response)
        except _GiveUp as exc:
            raise ModelFailed(str(exc)) from exc
        except Exception as exc:
            raise ModelFailed(describe_error(exc)) from exc
        raise ModelFailed("no attempt was made")  # pragma: no cover - tenacity always attempts once


def _content(response: Any) -> str | None:
    try:
        content = response.choices[0].message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return content if isinstance(content, str) else None
