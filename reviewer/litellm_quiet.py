"""litellm, imported on the model path only and told not to print its banners.

litellm prints "Provider List" and "Give Feedback" banners to stdout/stderr when a lookup
fails (a price for a model it doesn't know, an error it wraps) unless ``suppress_debug_info``
is set. The reviewer catches those errors itself, so the banners are only noise in a CLI's
output; every import of litellm in the package goes through :func:`load` so none is missed.
"""

from __future__ import annotations

from types import ModuleType


def load() -> ModuleType:
    """The litellm module, with its debug banners off (importing it is the slow part, once per process)."""
    import litellm

    litellm.suppress_debug_info = True
    return litellm
