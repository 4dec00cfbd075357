"""Run independent pieces of work a few at a time, on threads that keep the caller's log context."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_concurrently(work: Sequence[Callable[[], T]], *, width: int) -> list[T]:
    """Each callable's result, in order; at most ``width`` run at once (one: in this thread, in order).

    Every callable runs to its end even when another fails (no run is left half done); the first
    failure, in order, is raised afterwards. Interrupted while waiting, it starts no further work,
    waits for what is running, then re-raises. Each worker runs in a copy of this context, so log
    records keep the caller's context fields.
    """
    if width <= 1 or len(work) <= 1:
        return [w() for w in work]
    executor = ThreadPoolExecutor(max_workers=min(width, len(work)), thread_name_prefix="engine-run")
    try:
        futures: list[Future[T]] = [executor.submit(contextvars.copy_context().run, w) for w in work]
        errors = [f.exception() for f in futures]
    except BaseException:  # Ctrl-C or SIGTERM here: start nothing new, let the running ones finish
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    for err in errors:
        if err is not None:
            raise err
    return [f.result() for f in futures]
