"""How a model string reaches its provider through litellm, and what the provider says an answer cost.

Kept apart from the call loop (:mod:`reviewer.llm`): the route (the embedded local
server, a model's own API base, the shared one), whether the provider takes a JSON
schema as ``response_format``, and litellm's price for a response.
"""

from __future__ import annotations

from typing import Any

from reviewer.config import Settings


async def route(model: str, settings: Settings) -> tuple[str, dict[str, Any], bool | None]:
    """The litellm model string, connection kwargs and schema support for ``model``.

    The embedded local model (``local/<name>``) has its own server, which does
    support json_schema; for other models schema support is decided later (None).
    """
    from reviewer import local

    if local.is_local(model):
        routed, routed_extra = await local.alitellm_route(model, settings)
        return str(routed), dict(routed_extra), True
    extra: dict[str, Any] = {}
    if model in settings.model_api_bases:  # its own server (or "" = the provider's), not the shared one
        api_base, api_key = settings.model_api_bases[model] or None, None
    else:
        api_base, api_key = settings.api_base, settings.api_key
    if api_base:
        extra["api_base"] = api_base
    if api_key:
        extra["api_key"] = api_key
    elif api_base:
        extra["api_key"] = "sk-none"  # OpenAI-compatible servers often need no key; the client wants one
    return model, extra, None


def wants_json_schema(settings: Settings, model: str, api_base: str | None, known: bool | None = None) -> bool:
    """Whether to constrain output with ``response_format`` json_schema (else JSON mode + schema in prompt).

    ``settings.json_schema`` decides when set. Otherwise litellm's model map decides,
    except for ``openai/<name>`` on a custom API base (an unknown OpenAI-compatible
    server): JSON mode there, which such servers accept far more widely.
    """
    if settings.json_schema is not None:
        return settings.json_schema
    if known is not None:
        return known
    if api_base and model.startswith("openai/"):
        return False
    try:
        from reviewer import litellm_quiet

        return bool(litellm_quiet.load().supports_response_schema(model=model))
    except Exception:
        return False


def response_cost(response: Any) -> float | None:
    """litellm's cost of one response when it knows the model's price, else None."""
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if cost is None:
        try:
            from reviewer import litellm_quiet

            cost = litellm_quiet.load().completion_cost(completion_response=response)
        except Exception:  # unknown model or price: litellm raises; "unknown" is the honest answer
            return None
    try:
        return float(cost)
    except (TypeError, ValueError):
        return None
