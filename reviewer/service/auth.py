"""API keys as ``Authorization: Bearer <key>``, compared in constant time.

Several keys may be configured at once so a key can be rotated without downtime.
Every configured key is compared (no early exit), so timing says nothing about
which key, or which prefix, was close. The check runs in the service middleware,
before the body is read, for every path under ``/v1/``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

PROTECTED_PREFIX = "/v1/"
SCHEME_NAME = "BearerKey"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "One of the keys in REVIEWER_API_KEYS (comma-separated; several allow rotation).",
}


NO_KEYS_OFF_LOOPBACK = (
    "This server has no API keys and answers /v1/ on loopback addresses only: set REVIEWER_API_KEYS "
    "(or REVIEWER_INSECURE_NO_AUTH=true to serve it open)."
)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 (also IPv4-mapped) and 'localhost': addresses other machines cannot reach."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def arrived_on_loopback(server: tuple[str, int | None] | list[object] | None) -> bool:
    """Whether a request's local address (ASGI ``scope["server"]``) is loopback; a Unix socket counts as local."""
    if not server or server[1] is None:
        return True
    return is_loopback(str(server[0]))


def key_matches(presented: str, keys: Sequence[str]) -> bool:
    """True when ``presented`` equals one of ``keys``; compares against all of them in constant time."""
    candidate = presented.encode("utf-8")
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key.encode("utf-8"))
    return matched


def auth_problem(authorization: bytes | None, keys: Sequence[str]) -> str | None:
    """Why a request with this ``Authorization`` header value is refused, or None when it may pass."""
    if not keys:
        return None
    if authorization is None:
        return "An API key is required: send 'Authorization: Bearer <key>'."
    scheme, _, credentials = authorization.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return "An API key is required: send 'Authorization: Bearer <key>'."
    if not key_matches(credentials.strip(), keys):
        return "The API key is not valid."
    return None
