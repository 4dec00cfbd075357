"""The async sender: bounded concurrency, one global rate, our own retries, batches committed to the ledger.

Items go out in batches of at most ``batch_size`` (500, FCM's historical multicast size).
A batch is claimed (rows ``in_flight``, committed) before any of its messages is handed
to FCM and its results are committed when every message has a final answer; at most two
batches are open at once, so a crash leaves at most two batches in doubt. Within the
batches at most ``concurrency`` HTTP requests are in flight, and a rate limiter spaces
all requests (retries included) to ``rate_per_minute``.

Stopping (SIGTERM via ``stop``, or an abort such as THIRD_PARTY_AUTH_ERROR) takes no new
batch and hands no new message to FCM; requests already out finish and are recorded,
the rest of the open batches goes back to pending.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
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
    retry_later: int = 0         # failed with a retryable error: the next run of the send retries them
    retried: int = 0             # retry attempts made
    dead_tokens: int = 0
    batches: list[int] = field(default_factory=list)     # sizes of the committed batches, in order
    abort: str | None = None
    interrupted: bool = False

    @property
    def done(self) -> int:
        return self.sent + sum(self.failed.values())


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
        open_batches = asyncio.Semaphore(_OPEN_BATCHES)
        watcher = asyncio.create_task(self._watch_stop())
        tasks: list[asyncio.Task[None]] = []
        try:
            for start in range(0, len(items), self._batch_size):
                await open_batches.acquire()
                if self._halt.is_set():
                    open_batches.release()
                    break
                batch = items[start:start + self._batch_size]
                await self._db(self._sink.claim, batch)
                tasks.append(asyncio.create_task(self._batch(batch, open_batches)))
        except BaseException:
            self._halt.set()
            raise
        finally:
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            watcher.cancel()
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            raise errors[0]
        return self.stats

    async def _batch(self, batch: Sequence[LedgerItem], open_batches: asyncio.Semaphore) -> None:
        try:
            results = await asyncio.gather(*(self._deliver(item) for item in batch))
            await self._db(self._sink.commit, results)
        except BaseException:
            self._halt.set()   # the ledger is unusable: take nothing new, let open work finish
            raise
        finally:
            open_batches.release()
        for result in results:
            if result.status == "sent":
                self.stats.sent += 1
            elif result.status == "failed":
                self.stats.failed[result.code or "UNKNOWN"] += 1
                self.stats.retry_later += result.retryable
            else:
                self.stats.deferred += 1
            self.stats.dead_tokens += result.dead_token
        self.stats.batches.append(len(batch))
        if self._on_batch:
            self._on_batch(self.stats)

    async def _deliver(self, item: LedgerItem) -> ItemResult:
        push = Push(token=item.token or "", title=item.title or "", body=item.body or "",
                    link=item.deep_link, run_id=self._run_id)
        attempt = 0
        while True:
            wait = self._limiter.reserve(time.monotonic())
            if wait:
                await asyncio.sleep(wait)
            async with self._requests:
                if self._halt.is_set():
                    return ItemResult(item, "pending")
                outcome = await self._client.send(push)
            attempt += 1
            if outcome.kind == SENT:
                return ItemResult(item, "sent", message_id=outcome.message_id)
            if outcome.kind == ABORT:
                if self.stats.abort is None:
                    self.stats.abort = outcome.detail or outcome.code
                self._halt.set()
                return ItemResult(item, "failed", code=outcome.code, retryable=True)
            if outcome.kind != RETRY:
                return ItemResult(item, "failed", code=outcome.code, dead_token=outcome.dead_token)
            delay = self._policy.delay(attempt, outcome.retry_after, self._rng)
            if delay is None or await self._halted_within(delay):
                return ItemResult(item, "failed", code=outcome.code, retryable=True)
            self.stats.retried += 1

    async def _halted_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._halt.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return False
        return True

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
