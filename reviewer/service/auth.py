"""API keys as ``Authorization: Bearer <key>``, compared in constant time.

Several keys may be configured at once so a key can be rotated without downtime.
Every configured key is compared (no early exit), so timing says nothing about
which key, or which prefix, was close.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reviewer.service.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="One of the keys in REVIEWER_API_KEYS.")


def key_matches(presented: str, keys: Sequence[str]) -> bool:
    """True when ``presented`` equals one of ``keys``; compares against all of them in constant time."""
    candidate = presented.encode("utf-8")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key.encode("utf-8"))
    return matched


def require_key(keys: Sequence[str]) -> Callable[..., Awaitable[None]]:
    """A dependency enforcing the keys (only installed when keys are configured, so the spec says so truthfully)."""
    configured = tuple(keys)
    if not configured:
        raise ValueError("require_key needs at least one key")

    async def check(credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> None:  # noqa: B008
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ApiError(
                401,
                "An API key is required: send 'Authorization: Bearer <key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not key_matches(credentials.credentials, configured):
            raise ApiError(401, "The API key is not valid.", headers={"WWW-Authenticate": "Bearer"})

    return check
