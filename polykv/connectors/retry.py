"""``RetryPolicy``: how many tries, which backoff, and the one total deadline an operation gets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retry of transient faults: at most ``attempts`` tries, exponential backoff from ``backoff``
    seconds capped at ``max_backoff``, all within one total ``deadline`` (seconds from the start of the
    operation, every try included): a retry is made only if it can end, at its connector's
    ``attempt_timeout``, before the deadline."""

    attempts: int = 3
    backoff: float = 0.05
    max_backoff: float = 0.5
    deadline: float = 5.0

    def delay(self, attempt: int) -> float:
        """Backoff before try number ``attempt + 1`` (``attempt`` >= 1)."""
        return float(min(self.max_backoff, self.backoff * (2 ** (attempt - 1))))
