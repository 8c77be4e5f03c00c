"""reviewer: checks a support agent's draft reply to an upset customer before it is sent.

``check()`` is the rules-only review (synchronous, offline). ``review()`` /
``areview()`` add the LLM reviewer when a model is configured.
"""

from __future__ import annotations

import os

# litellm fetches its model price map from the internet at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from reviewer.engine import check  # noqa: E402
from reviewer.models import Review, ReviewRequest  # noqa: E402

__all__ = ["Review", "ReviewRequest", "check"]
__version__ = "0.1.0"
