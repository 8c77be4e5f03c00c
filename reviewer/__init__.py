"""reviewer: checks a support agent's draft reply to an upset customer before it is sent.

``check()`` is the rules-only review (synchronous, offline). ``review()`` /
``areview()`` add the LLM reviewer when a model is configured.

Every name here is imported lazily (PEP 562), so ``import reviewer`` costs
almost nothing and never pulls in litellm: the CLI's cold start depends on it.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# litellm fetches its model price map from the internet at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

if TYPE_CHECKING:
    from reviewer.config import Settings
    from reviewer.engine import areview, check, review
    from reviewer.models import Review, ReviewRequest

__all__ = ["Review", "ReviewRequest", "Settings", "areview", "check", "review"]
__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "check": "reviewer.engine",
    "review": "reviewer.engine",
    "areview": "reviewer.engine",
    "Review": "reviewer.models",
    "ReviewRequest": "reviewer.models",
    "Settings": "reviewer.config",
}


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'reviewer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
