"""The async sender: bounded concurrency, one global rate, our own retries, batches committed to the ledger.

Items go out in batches of at most ``batch_size`` (500, FCM's historical multicast size).
A batch is claimed (rows ``in_flight``, committed) before any of its messages is handed
to FCM, and its results are committed when each message has had its one attempt; at most
two batches are open at once, so a crash leaves at most two batches in doubt. Within the
batches at most ``concurrency`` HTTP requests are in flight, and a rate limiter spaces all
requests (retries included) to ``rate_per_minute``.

A transient failure does not hold its batch open: it is committed back to ``pending`` and
the message joins a later batch once its backoff (or Retry-After) has passed, so one slow
retry never stalls the other messages. After ``policy.max_attempts`` it is recorded as a
retryable failure, which the next run of the same send tries again.

Stopping (SIGTERM via ``stop``, or an abort such as THIRD_PARTY_AUTH_ERROR) takes no new
batch and hands no new message to FCM; requests already out finish and are recorded,
the rest of the open batches goes back to pending.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from engine.delivery.fcm import ABORT, RETRY, SENT, Outcome, Push
from engine.delivery.ledger import ItemResult, LedgerItem
from engine.delivery.pacing import RateLimiter, RetryPolicy

MAX_BATCH = 500
_OPEN_BATCHES = 2
_STOP_POLL_S = 0.05


class PushClient(Protocol):
    async def send(self, push: Push) -> Outcome: ...


class BatchSink(Protocol):
    """Where the sender claims and commits batches (the ledger, bound to one send)."""

    def claim(self, items: Sequence[LedgerItem]) -> None: ...

    def commit(self, results: Sequence[ItemResult]) -> None: ...


@dataclass
class SenderStats:
    """What this run of the sender did (the ledger holds the totals across runs)."""

    sent: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    deferred: int = 0            # handed back as pending: stop or abort came first
    retried: int = 0             # retries scheduled after a transient failure
    retry_later: int = 0         # gave up with a retryable error: the next run of the send retries them
    dead_tokens: int = 0
    batches: list[int] = field(default_factory=list)     # sizes of the committed batches, in order
    abort: str | None = None
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.sent + sum(self.failed.values())


@dataclass(frozen=True)
class _Attempt:
    item: LedgerItem
    attempts: int                # tries already made


@dataclass(frozen=True)
class _Tried:
    result: ItemResult
    retry_in: float | None = None   # seconds until the next try, when one is due


class Sender:
    """Send ledger items through ``client``; see the module docstring for the guarantees."""

    def __init__(self, client: PushClient, sink: BatchSink, *, run_id: str, concurrency: int,
                 rate_per_minute: int, policy: RetryPolicy, batch_size: int = MAX_BATCH,
                 stop: threading.Event | None = None, on_batch: Callable[[SenderStats], None] | None = None,
                 rng: random.Random | None = None) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be within 1..{MAX_BATCH}")
        self._client = client
        self._sink = sink
        self._run_id = run_id
        self._concurrency = max(1, concurrency)
        self._limiter = RateLimiter(rate_per_minute, burst=self._concurrency)
        self._policy = policy
        self._batch_size = batch_size
        self._stop = stop
        self._on_batch = on_batch
        self._rng = rng or random.Random()
        self.stats = SenderStats()

    async def run(self, items: Sequence[LedgerItem]) -> SenderStats:
        self._halt = asyncio.Event()
        self._requests = asyncio.Semaphore(self._concurrency)
        self._db_lock = asyncio.Lock()
        self._fresh = deque(_Attempt(item, 0) for item in items)
        self._later: list[tuple[float, int, _Attempt]] = []       # heap: (ready at, seq, attempt)
        self._open: set[asyncio.Task[None]] = set()
        watcher = asyncio.create_task(self._watch_stop())
        try:
            await self._loop()
        except BaseException:
            self._halt.set()
            raise
        finally:
            outcomes = await asyncio.gather(*self._open, return_exceptions=True)
            watcher.cancel()
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            raise errors[0]
        return self.stats

    async def _loop(self) -> None:
        while not self._halt.is_set():
            while len(self._open) >= _OPEN_BATCHES:
                await self._reap(timeout=None)
            if self._halt.is_set():
                return
            batch = self._take(time.monotonic())
            if batch:
                await self._db(self._sink.claim, [attempt.item for attempt in batch])
                self._open.add(asyncio.create_task(self._batch(batch)))
            elif not self._open and not self._later:
                return
            else:      # nothing ready: a batch finishing may schedule retries, or the next retry comes due
                await self._reap(timeout=max(0.0, self._later[0][0] - time.monotonic()) if self._later else None)

    def _take(self, now: float) -> list[_Attempt]:
        """Due retries first, then fresh items, up to one batch."""
        batch: list[_Attempt] = []
        while self._later and self._later[0][0] <= now and len(batch) < self._batch_size:
            batch.append(heapq.heappop(self._later)[2])
        while self._fresh and len(batch) < self._batch_size:
            batch.append(self._fresh.popleft())
        return batch

    async def _reap(self, *, timeout: float | None) -> None:
        """Wait for an open batch to finish (or ``timeout``), surfacing its error."""
        waiters: set[asyncio.Future[Any]] = set(self._open)
        halt = asyncio.create_task(self._halt.wait())
        waiters.add(halt)
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        halt.cancel()
        for task in done & self._open:
            self._open.discard(task)      # type: ignore[arg-type]
            task.result()

    async def _batch(self, batch: Sequence[_Attempt]) -> None:
        try:
            tried = await asyncio.gather(*(self._try(attempt) for attempt in batch))
            await self._db(self._sink.commit, [t.result for t in tried])
        except BaseException:
            self._halt.set()   # the ledger is unusable: take nothing new, let open work finish
            raise
        now = time.monotonic()
        for attempt, outcome in zip(batch, tried, strict=True):
            self._count(outcome)
            if outcome.retry_in is not None:    # only now, after "pending" is committed for it
                next_try = _Attempt(attempt.item, attempt.attempts + 1)
                heapq.heappush(self._later, (now + outcome.retry_in, attempt.item.seq, next_try))
        self.stats.batches.append(len(batch))
        if self._on_batch:
            self._on_batch(self.stats)

    def _count(self, tried: _Tried) -> None:
        result = tried.result
        if result.status == "sent":
            self.stats.sent += 1
        elif result.status == "failed":
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
        async with self._requests:
            if self._halt.is_set():
                return _Tried(ItemResult(item, "pending"))
            outcome = await self._client.send(Push(token=item.token or "", title=item.title or "",
                                                   body=item.body or "", link=item.deep_link, run_id=self._run_id))
        if outcome.kind == SENT:
            return _Tried(ItemResult(item, "sent", message_id=outcome.message_id))
        if outcome.kind == ABORT:
            if self.stats.abort is None:
                self.stats.abort = outcome.detail or outcome.code
            self._halt.set()
            return _Tried(ItemResult(item, "failed", code=outcome.code, retryable=True))
        if outcome.kind != RETRY:
            return _Tried(ItemResult(item, "failed", code=outcome.code, dead_token=outcome.dead_token))
        delay = self._policy.delay(attempt.attempts + 1, outcome.retry_after, self._rng)
        if delay is None or self._halt.is_set():
            return _Tried(ItemResult(item, "failed", code=outcome.code, retryable=True))
        return _Tried(ItemResult(item, "pending", code=outcome.code, retryable=True), retry_in=delay)

    async def _watch_stop(self) -> None:
        """Poll the stop flag: a signal handler sets it from outside the event loop."""
        while self._stop is not None:
            if self._stop.is_set():
                self.stats.interrupted = True
                self._halt.set()
                return
            await asyncio.sleep(_STOP_POLL_S)

    async def _db(self, func: Callable[..., Any], *args: Any) -> Any:
        async with self._db_lock:
            return await asyncio.to_thread(func, *args)
