"""Rate limiter and retry policy: pure arithmetic, checked against hand-computed schedules."""

from __future__ import annotations

import random

import pytest

from engine.delivery.pacing import RateLimiter, RetryPolicy


def test_rate_limiter_spaces_sends_evenly() -> None:
    limiter = RateLimiter(60)  # one per second, no burst
    # five sends asked for at t=0 go at 0, 1, 2, 3, 4 s
    assert [limiter.reserve(0.0) for _ in range(5)] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_rate_limiter_burst_then_steady() -> None:
    limiter = RateLimiter(120, burst=3)  # interval 0.5 s; three may go at once
    waits = [limiter.reserve(10.0) for _ in range(5)]
    # slots at 10.0, 10.5, 11.0, 11.5, 12.0; the burst lets each go 1.0 s (2 intervals) early
    assert waits == [0.0, 0.0, 0.0, 0.5, 1.0]


def test_rate_limiter_idle_time_is_not_banked_beyond_the_burst() -> None:
    limiter = RateLimiter(60)
    assert limiter.reserve(0.0) == 0.0
    assert limiter.reserve(100.0) == 0.0  # long idle
    assert limiter.reserve(100.0) == 1.0  # but the next one still waits a full interval


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_backoff_grows_within_its_jitter_band() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=1.0, max_delay_s=8.0)
    rng = random.Random(7)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0)]:  # base * 2**(attempt-1), capped
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays), attempt
        assert max(delays) - min(delays) > cap / 4  # actually jittered


def test_retry_after_is_the_minimum_wait() -> None:
    policy = RetryPolicy(base_delay_s=0.5)
    rng = random.Random(1)
    delays = [policy.delay(1, 7.0, rng) for _ in range(100)]
    assert all(7.0 <= d <= 7.5 for d in delays)


def test_no_retry_after_the_last_attempt_or_for_a_too_long_retry_after() -> None:
    policy = RetryPolicy(max_attempts=3, max_retry_after_s=60)
    rng = random.Random(1)
    assert policy.delay(2, None, rng) is not None
    assert policy.delay(3, None, rng) is None
    assert policy.delay(1, 61.0, rng) is None
    assert policy.delay(1, 60.0, rng) is not None
