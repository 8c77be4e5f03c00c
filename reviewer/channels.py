"""Where a reply is sent: the channels the API (``context.channel``) and the CLI (``--channel``) accept.

Its own small module, free of pydantic, because ``reviewer check --help`` lists them.
"""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["email", "chat", "social", "phone"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
