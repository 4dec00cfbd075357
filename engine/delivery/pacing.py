"""Pacing: the global send-rate limit and the retry backoff policy (pure arithmetic, clock passed in)."""

from __future__ import annotations

import random
from dataclasses import dataclass


class RateLimiter:
    """Generic cell-rate limiter: at most ``per_minute`` sends, with a burst of ``burst`` at once.

    ``reserve(now)`` books the next slot and returns how long to wait before using it, so
    concurrent senders share one schedule without a lock (single event loop).
    """

    def __init__(self, per_minute: int, *, burst: int = 1) -> None:
        if per_minute <= 0:
            raise ValueError("rate per minute must be positive")
        self.interval = 60.0 / per_minute
        self.burst = max(1, burst)
        self._tat: float | None = None  # theoretical arrival time of the next send

    def reserve(self, now: float) -> float:
        tat = now if self._tat is None else max(self._tat, now)
        wait = max(0.0, tat - now - (self.burst - 1) * self.interval)
        self._tat = tat + self.interval
        return wait


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter (half fixed, half random); Retry-After sets the minimum wait.

    ``max_attempts`` counts every try of one message. A Retry-After longer than
    ``max_retry_after_s`` is not waited for: the message is recorded as a retryable
    failure for the next run of the same send instead.
    """

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before try ``attempt + 1``, or None when it is not worth retrying."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after_s:
                return None
            return retry_after + rng.uniform(0, self.base_delay_s)
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return cap / 2 + rng.uniform(0, cap / 2)
