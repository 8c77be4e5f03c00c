"""Which input column holds the draft, the customer's message and the metadata.

A flag names a column exactly (``--draft-column reply_text``); without one, the first
of the field's usual names in common help-desk exports that the input has, in any case.
A dotted name (``via.channel``) reaches into nested JSON objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# field -> the names help-desk exports (Zendesk, Freshdesk, Intercom, Help Scout, TWCS...) give it, in order.
DEFAULTS: dict[str, tuple[str, ...]] = {
    "draft": ("draft", "reply", "response", "agent_reply", "reply_text", "support_text", "agent_message", "body"),
    "customer": (
        "customer_message",
        "customer",
        "customer_text",
        "message",
        "question",
        "request",
        "description",
        "inquiry",
    ),
    "id": ("id", "reply_id", "message_id", "comment_id", "support_tweet_id", "ticket_id", "conversation_id"),
    "agent": ("agent", "agent_name", "assignee", "assignee_name", "responder", "author", "author_name"),
    "team": ("team", "group", "group_name", "team_name", "department", "queue"),
    "channel": ("channel", "via", "source", "medium"),
    "timestamp": ("timestamp", "created_at", "sent_at", "date", "time", "updated_at", "created"),
}
FIELDS = tuple(DEFAULTS)


class ColumnError(ValueError):
    """A named column is not in the input, or no draft column can be found."""


@dataclass(frozen=True)
class Columns:
    """The input column (or dotted path) of each field; None when the input has none."""

    draft: str
    customer: str | None = None
    id: str | None = None
    agent: str | None = None
    team: str | None = None
    channel: str | None = None
    timestamp: str | None = None


def resolve(available: Iterable[str], explicit: Mapping[str, str | None], where: str) -> Columns:
    """Map each field to a column of ``available`` (an input's header or first object's keys)."""
    names = list(available)
    by_lower = {name.lower(): name for name in reversed(names)}
    chosen: dict[str, str | None] = {}
    for field, candidates in DEFAULTS.items():
        wanted = explicit.get(field)
        if wanted is not None:
            if wanted in names or "." in wanted:
                chosen[field] = wanted
            elif wanted.lower() in by_lower:
                chosen[field] = by_lower[wanted.lower()]
            else:
                raise ColumnError(f"{where}: no column {wanted!r} (--{field}-column); columns: {', '.join(names)}")
            continue
        chosen[field] = next((by_lower[c] for c in candidates if c in by_lower), None)
    draft = chosen.pop("draft")
    if draft is None:
        raise ColumnError(
            f"{where}: no draft column (looked for {', '.join(DEFAULTS['draft'])}); name it with --draft-column"
        )
    return Columns(draft=draft, **chosen)
