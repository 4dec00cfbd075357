"""run_concurrently: order kept, every piece runs even when one fails, context carried to the workers."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from engine.concurrency import run_concurrently

WHO = contextvars.ContextVar("who", default="nobody")


def test_results_in_order_and_really_concurrent() -> None:
    barrier = threading.Barrier(2, timeout=5)  # both must be running at once, or this times out

    def piece(value: int) -> int:
        barrier.wait()
        time.sleep(0.01 * (2 - value))  # the first finishes last: order must still hold
        return value

    assert run_concurrently([lambda: piece(0), lambda: piece(1)], width=2) == [0, 1]


def test_width_one_runs_in_this_thread_in_order() -> None:
    seen: list[str] = []
    main = threading.current_thread().name
    run_concurrently([lambda: seen.append(threading.current_thread().name) for _ in range(3)], width=1)
    assert seen == [main] * 3


def test_a_failure_is_raised_after_every_piece_ran() -> None:
    done: list[int] = []

    def fail() -> None:
        raise ValueError("first")

    def slow() -> None:
        time.sleep(0.05)
        done.append(1)

    with pytest.raises(ValueError, match="first"):
        run_concurrently([fail, slow, slow], width=2)
    assert done == [1, 1]


def test_workers_see_the_callers_context() -> None:
    WHO.set("run-42")
    assert run_concurrently([WHO.get, WHO.get], width=2) == ["run-42", "run-42"]
