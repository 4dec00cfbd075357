"""The async sender: bounded concurrency, one global rate, our own retries, results group-committed.

A push is claimed (its ledger row ``in_flight``, committed) just before it is handed to FCM,
and its result is committed within one commit interval (``commit_interval``, 20 ms) of its
answer. One ledger transaction per tick records every answer that arrived since the last one
and claims the next pushes: enough for the idle workers plus half as many again, so a claimed
push waits little before its request. At most ``window`` pushes are claimed and not yet
recorded at any moment (default: twice the concurrency), so a crash leaves at most ``window``
pushes in doubt: the requests in flight plus the answers waiting for the next commit. ``concurrency`` workers
each send one request at a time; a rate limiter spaces all requests (retries included) to
``rate_per_minute``.

A transient failure does not hold anything up: it is committed back to ``pending`` and the
message is claimed again once its backoff (or Retry-After) has passed. After
``policy.max_attempts`` it is recorded as a retryable failure, which the next run of the same
send tries again.

Stopping (SIGTERM via ``stop``, or an abort such as THIRD_PARTY_AUTH_ERROR) hands no new
message to FCM; requests already out finish and are recorded, claimed pushes not yet sent go
back to pending.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from engine.delivery.fcm import Outcome, OutcomeKind, Push
from engine.delivery.model import ItemResult, ItemStatus, LedgerItem
from engine.delivery.pacing import RateLimiter, RetryPolicy

COMMIT_INTERVAL_S = 0.02
_STOP_POLL_S = 0.05


def default_window(concurrency: int) -> int:
    """Pushes claimed and not yet recorded at most: the requests in flight, as many again waiting for a commit."""
    return 2 * max(1, concurrency)


class PushClient(Protocol):
    async def send(self, push: Push) -> Outcome: ...


class CommitSink(Protocol):
    """Where the sender records answers and claims pushes (the ledger, bound to one send)."""

    def commit(self, results: Sequence[ItemResult], claim: Sequence[LedgerItem]) -> None: ...


@dataclass
class SenderStats:
    """What this run of the sender did (the ledger holds the totals across runs)."""

    sent: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    deferred: int = 0  # handed back as pending: stop or abort came first
    retried: int = 0  # retries scheduled after a transient failure
    retry_later: int = 0  # gave up with a retryable error: the next run of the send retries them
    dead_tokens: int = 0
    commits: int = 0  # ledger transactions (each records answers and claims pushes)
    max_unrecorded: int = 0  # the most pushes claimed and not yet recorded at once (<= window)
    abort: str | None = None
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.sent + sum(self.failed.values())


@dataclass(frozen=True)
class _Attempt:
    item: LedgerItem
    attempts: int  # tries already made


@dataclass(frozen=True)
class _Tried:
    result: ItemResult
    retry_in: float | None = None  # seconds until the next try, when one is due


class Sender:
    """Send ledger items through ``client``; see the module docstring for the guarantees."""

    def __init__(
        self,
        client: PushClient,
        sink: CommitSink,
        *,
        run_id: str,
        concurrency: int,
        rate_per_minute: int,
        policy: RetryPolicy,
        window: int | None = None,
        commit_interval: float = COMMIT_INTERVAL_S,
        stop: threading.Event | None = None,
        on_commit: Callable[[SenderStats], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._window = window or default_window(concurrency)
        if self._window < 1:
            raise ValueError("window must be at least 1")
        self._client = client
        self._sink = sink
        self._run_id = run_id
        self._workers = max(1, min(concurrency, self._window))
        self._limiter = RateLimiter(rate_per_minute, burst=self._workers)
        self._policy = policy
        self._interval = commit_interval
        self._lookahead = max(1, self._workers // 2)  # claimed ahead for workers about to free up
        self._flush_at = max(1, (self._window - self._workers) // 2 or self._window // 2)
        self._stop = stop
        self._on_commit = on_commit
        self._rng = rng or random.Random()
        self.stats = SenderStats()

    async def run(self, items: Sequence[LedgerItem]) -> SenderStats:
        self._halt = asyncio.Event()
        self._wake = asyncio.Event()  # a worker has an answer, or the sender should stop
        self._fed = asyncio.Event()  # the writer claimed more, or there is nothing more
        self._finished = False
        self._fresh = deque(_Attempt(item, 0) for item in items)
        self._later: list[tuple[float, int, _Attempt]] = []  # heap: (ready at, seq, attempt)
        self._ready: deque[_Attempt] = deque()  # claimed, not yet handed to FCM
        self._done: list[tuple[_Attempt, _Tried]] = []  # answered, not yet recorded
        self._first_done = 0.0
        self._active = 0  # requests out right now
        self._unrecorded = 0  # claimed and not yet recorded
        workers = [asyncio.create_task(self._worker()) for _ in range(self._workers)]
        watcher = asyncio.create_task(self._watch_stop())
        try:
            await self._write()
        except BaseException:
            self._halt.set()  # the ledger is unusable: hand nothing new to FCM
            raise
        finally:
            self._finished = True
            self._fed.set()
            await asyncio.gather(*workers, return_exceptions=True)
            watcher.cancel()
        return self.stats

    # ---- the writer: one ledger transaction per tick ----------------------------------------------

    async def _write(self) -> None:
        while True:
            if self._halt.is_set():
                await self._drain()
                return
            now = time.monotonic()
            starving = (
                self._active + len(self._ready) < self._workers
                and self._unrecorded < self._window
                and self._has_work(now)
            )
            due = self._done and (len(self._done) >= self._flush_at or now - self._first_done >= self._interval)
            if starving or due:
                await self._tick(claim=True)
                continue
            if not (self._done or self._ready or self._active or self._fresh or self._later):
                return
            await self._sleep(now)

    def _has_work(self, now: float) -> bool:
        return bool(self._fresh) or bool(self._later and self._later[0][0] <= now)

    async def _sleep(self, now: float) -> None:
        """Until a worker answers, the commit interval ends, or the next retry is due."""
        timeouts = []
        if self._done:
            timeouts.append(self._first_done + self._interval - now)
        if self._later and not self._ready:
            timeouts.append(self._later[0][0] - now)
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, min(timeouts)) if timeouts else None)
        except TimeoutError:
            pass

    async def _drain(self) -> None:
        """Stopping: wait for the requests out, then record them and put back what was never sent."""
        while self._active:
            self._wake.clear()
            await self._wake.wait()
        back = [(attempt, _Tried(ItemResult(attempt.item, ItemStatus.PENDING))) for attempt in self._ready]
        self._ready.clear()
        self._done.extend(back)
        if self._done:
            await self._tick(claim=False)

    async def _tick(self, *, claim: bool) -> None:
        answered, self._done = self._done, []
        room = min(
            self._window - self._unrecorded + len(answered),
            self._workers + self._lookahead - self._active - len(self._ready),
        )
        claimed = self._take(time.monotonic(), room) if claim else []
        await asyncio.to_thread(
            self._sink.commit, [tried.result for _, tried in answered], [attempt.item for attempt in claimed]
        )
        self._unrecorded += len(claimed) - len(answered)
        self.stats.max_unrecorded = max(self.stats.max_unrecorded, self._unrecorded)
        self.stats.commits += 1
        if claimed:
            self._ready.extend(claimed)
            self._fed.set()
        now = time.monotonic()
        for attempt, tried in answered:
            self._count(tried)
            if tried.retry_in is not None:  # only now, after "pending" is committed for it
                next_try = _Attempt(attempt.item, attempt.attempts + 1)
                heapq.heappush(self._later, (now + tried.retry_in, attempt.item.seq, next_try))
        if self._on_commit and answered:
            self._on_commit(self.stats)

    def _take(self, now: float, room: int) -> list[_Attempt]:
        """Due retries first, then fresh items, up to ``room``."""
        taken: list[_Attempt] = []
        while self._later and self._later[0][0] <= now and len(taken) < room:
            taken.append(heapq.heappop(self._later)[2])
        while self._fresh and len(taken) < room:
            taken.append(self._fresh.popleft())
        return taken

    # ---- the workers: one request at a time each --------------------------------------------------

    async def _worker(self) -> None:
        while True:
            attempt = await self._next()
            if attempt is None:
                return
            self._active += 1
            try:
                tried = await self._try(attempt)
            finally:
                self._active -= 1
            if not self._done:
                self._first_done = time.monotonic()
            self._done.append((attempt, tried))
            # wake the writer only when it has something to decide: the first answer starts the
            # commit interval, a full group is due now, a stop waits for the last request
            if len(self._done) == 1 or len(self._done) >= self._flush_at or self._halt.is_set():
                self._wake.set()

    async def _next(self) -> _Attempt | None:
        while not self._halt.is_set() and not self._finished:
            if self._ready:
                return self._ready.popleft()
            self._fed.clear()
            self._wake.set()  # the writer may be waiting for room to claim
            await self._fed.wait()
        return None

    def _count(self, tried: _Tried) -> None:
        result = tried.result
        if result.status is ItemStatus.SENT:
            self.stats.sent += 1
        elif result.status is ItemStatus.FAILED:
            self.stats.failed[result.code or "UNKNOWN"] += 1
            self.stats.retry_later += result.retryable
        elif tried.retry_in is not None:
            self.stats.retried += 1
        else:
            self.stats.deferred += 1
        self.stats.dead_tokens += result.dead_token

    async def _try(self, attempt: _Attempt) -> _Tried:
        """One try of one message."""
        item = attempt.item
        wait = self._limiter.reserve(time.monotonic())
        if wait:
            await asyncio.sleep(wait)
        if self._halt.is_set():
            return _Tried(ItemResult(item, ItemStatus.PENDING))
        outcome = await self._client.send(
            Push(
                token=item.token or "",
                title=item.title or "",
                body=item.body or "",
                link=item.deep_link,
                run_id=self._run_id,
            )
        )
        if outcome.kind is OutcomeKind.SENT:
            return _Tried(ItemResult(item, ItemStatus.SENT, message_id=outcome.message_id))
        if outcome.kind is OutcomeKind.ABORT:
            if self.stats.abort is None:
                self.stats.abort = outcome.detail or outcome.code
            self._halt.set()
            self._wake.set()
            return _Tried(ItemResult(item, ItemStatus.FAILED, code=outcome.code, retryable=True))
        if outcome.kind is not OutcomeKind.RETRY:
            return _Tried(ItemResult(item, ItemStatus.FAILED, code=outcome.code, dead_token=outcome.dead_token))
        delay = self._policy.delay(attempt.attempts + 1, outcome.retry_after, self._rng)
        if delay is None or self._halt.is_set():
            return _Tried(ItemResult(item, ItemStatus.FAILED, code=outcome.code, retryable=True))
        return _Tried(ItemResult(item, ItemStatus.PENDING, code=outcome.code, retryable=True), retry_in=delay)

    async def _watch_stop(self) -> None:
        """Poll the stop flag: a signal handler sets it from outside the event loop."""
        while self._stop is not None:
            if self._stop.is_set():
                self.stats.interrupted = True
                self._halt.set()
                self._wake.set()
                return
            await asyncio.sleep(_STOP_POLL_S)
