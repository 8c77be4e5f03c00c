"""Which learned judge a review uses (a path, ``default`` or ``none``), decided without loading one.

Apart from :mod:`reviewer.judge` so that the default, no judge, costs ``reviewer check`` no import
of the judge's code at cold start (~5 ms).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PATH = Path(__file__).parent / "judge" / "data" / "default.judge"
NONE = "none"  # REVIEWER_JUDGE=none (or unset): the rules decide alone
DEFAULT = "default"  # REVIEWER_JUDGE=default: the shipped judge


def resolve(choice: str | None = None) -> Path | None:
    """The judge file in use: ``choice``, else ``REVIEWER_JUDGE``: a path, ``default`` (the shipped file) or
    ``none``. Unset means none: measured on brands it was not trained on, the shipped judge does not beat
    the rules alone (README, "The learned judge"), so the fast rules path is the default."""
    chosen = (choice if choice is not None else os.environ.get("REVIEWER_JUDGE", "")).strip()
    if not chosen or chosen.lower() == NONE:
        return None
    if chosen.lower() == DEFAULT:
        return DEFAULT_PATH
    return Path(chosen)
