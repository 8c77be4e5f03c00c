"""A promptfoo Python provider that reviews each draft with the reviewer library, in-process (no server).

promptfoo calls ``call_api(prompt, options, context)``: the prompt is the draft, ``context["vars"]``
may hold ``customer`` (the message it answers), ``channel`` and ``company``; ``options["config"]["mode"]``
is ``check`` (the rules engine alone, like ``POST /v1/check``) or ``review`` (the full review, with the
model from ``REVIEWER_*`` or ``reviewer.toml``, like ``POST /v1/reviews``). The output is the same
``Review`` JSON the service answers with; bad input is an ``error``, as a 422 is for the HTTP provider.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from reviewer import check, review
from reviewer.models import ReviewRequest


def build_request(prompt: str, variables: dict[str, Any]) -> ReviewRequest:
    """The ReviewRequest the HTTP provider's body describes: the draft and, when given, the customer's message."""
    context = {key: variables[key] for key in ("channel", "company", "agent_name", "language") if variables.get(key)}
    return ReviewRequest(draft=prompt, customer_message=variables.get("customer") or None, context=context)


def call_api(prompt: str, options: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    config = options.get("config") or {}
    mode = config.get("mode", "check")
    if mode not in ("check", "review"):
        return {"error": f"config.mode must be 'check' or 'review', not {mode!r}"}
    try:
        request = build_request(prompt, context.get("vars") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        return {"error": f"invalid request: {'.'.join(map(str, first['loc']))}: {first['msg']}"}
    result = check(request, rewrite=False) if mode == "check" else review(request)  # check: as POST /v1/check
    return {"output": result.model_dump(mode="json")}
