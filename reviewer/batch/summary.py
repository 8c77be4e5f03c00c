"""What a batch run did: rows read, reviewed, skipped, the verdict mix, and what the model cost."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Summary:
    rows: int = 0  # read from the input
    already_done: int = 0  # found in the output of an earlier, interrupted run: not reviewed again
    reviewed: int = 0  # by this run
    bad: int = 0  # could not be read as a reply to review (reported, skipped)
    verdicts: Counter[str] = field(default_factory=Counter)  # of the rows reviewed by this run
    by_model: int = 0  # reviews a model worked on (the rest: the rules alone)
    degraded: int = 0  # of those, the ones where no model answered
    cost_usd: float = 0.0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.reviewed / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        mix = ", ".join(f"{verdict} {self.verdicts[verdict]:,}" for verdict in ("send", "revise", "block"))
        out = [
            f"rows: {self.rows:,} read, {self.already_done:,} already in the output, "
            f"{self.reviewed:,} reviewed, {self.bad:,} bad (skipped)",
            f"verdicts of the rows reviewed now: {mix}",
            f"time: {self.seconds:,.1f} s, {self.rate:,.0f} rows/s",
        ]
        if self.by_model:
            out.append(
                f"model: {self.by_model:,} rows reviewed by the model ({self.degraded:,} degraded to the rules), "
                f"cost ${self.cost_usd:,.4f} as litellm reports it"
            )
        return out
