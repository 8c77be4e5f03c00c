"""Reviews from a running ``reviewer serve``: the model loads once there, not in every ``reviewer check``.

``reviews(server, requests)`` posts each request to ``<server>/v1/reviews`` and returns the
``Review``s in order. A server that cannot be reached, refuses the key or answers with an
error raises :class:`RemoteError` with one line saying what and how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable

from reviewer.models import Review, ReviewRequest


class RemoteError(Exception):
    """The review server could not give a review; the message says why, in one line."""


def reviews(
    server: str,
    requests: list[ReviewRequest],
    api_key: str | None = None,
    timeout_s: float = 600.0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Review]:
    """One ``POST /v1/reviews`` per request, in order, on one connection."""
    import httpx

    base = server.rstrip("/")
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    out: list[Review] = []
    with httpx.Client(base_url=base, headers=headers, timeout=timeout_s) as client:
        for index, request in enumerate(requests, start=1):
            if progress is not None:
                progress(index, len(requests))
            try:
                response = client.post("/v1/reviews", content=request.model_dump_json())
            except httpx.HTTPError as exc:
                raise RemoteError(f"cannot reach the review server at {base} ({type(exc).__name__}: {exc}); "
                                  "start it with `reviewer serve`, or drop --server / REVIEWER_SERVER") from None
            if response.status_code != 200:
                raise RemoteError(f"the review server at {base} answered {response.status_code}: {_error(response)}")
            try:
                out.append(Review.model_validate_json(response.content))
            except ValueError as exc:
                raise RemoteError(f"the review server at {base} sent something that is not a review: {exc}") from None
    return out


def _error(response: object) -> str:
    """The message of the service's ``{"error": {...}}`` body, else the start of the body."""
    try:
        body = response.json()  # type: ignore[attr-defined]
        return str(body["error"]["message"])
    except Exception:  # not our error shape: show what came back
        return str(getattr(response, "text", ""))[:200]
