"""The send ledger: delivery's transactions over ``engine.state.sends`` (the ledger tables' one owner).

Every targeted user gets a row before anything is sent; until it is sent or finally fails,
that row is the user's cadence claim (engine/state/cadence_filter.sql counts it). A push's row is
``in_flight`` (committed) before its HTTP call; its answer, the sent-notification record
cadence reads and any dead token are committed together afterwards (``commit``). A send holds
a PostgreSQL advisory lock for its whole run, so a second copy cannot start while it runs,
and engine.send_status shows 'sending' only while that lock is held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import psycopg

from engine.cadence import SentPush, record_in_doubt, record_sent
from engine.config import Settings
from engine.db import connect
from engine.delivery.model import (
    ALL_ROWS,
    ItemResult,
    ItemStatus,
    LedgerItem,
    PlanSummary,
    Send,
    SendRecord,
    SendStatus,
    Tally,
    send_key,
)
from engine.errors import DeliveryError, SendBusy
from engine.state import sends
from engine.state.migrate import require_migrated

if TYPE_CHECKING:
    from engine.delivery.shard import Shard


class Ledger:
    """Ledger operations on one autocommit connection; each method is its own transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    @classmethod
    def connect(cls, settings: Settings) -> Ledger:
        conn = connect(
            settings.require_state_dsn(),
            retries=settings.connect_retries,
            autocommit=True,
            application_name="audience-engine-send",
        )
        ledger = cls(conn)
        try:
            ledger.require_schema()
        except Exception:
            conn.close()
            raise
        return ledger

    def close(self) -> None:
        self.conn.close()

    def require_schema(self) -> None:
        require_migrated(self.conn)

    def lock(self, send_id: str, shard: Shard | None = None) -> None:
        """Hold the send's advisory lock for this session: exclusively for the whole send, shared for a shard
        (plus the shard's own lock). Another holder in the way means a copy is running: SendBusy."""
        if shard is None:
            if not sends.try_lock(self.conn, send_id):
                raise SendBusy(
                    f"send {send_id!r} is already running in another process",
                    hint="let it finish; running the same command afterwards resumes it if needed",
                )
            return
        if not sends.try_lock(self.conn, send_id, shared=True):
            raise SendBusy(
                f"send {send_id!r} is being sent whole by another process: shard {shard} waits",
                hint="let it finish; it sends this shard's rows too",
            )
        if not sends.try_lock_shard(self.conn, send_id, str(shard)):
            sends.unlock_shared(self.conn, send_id)
            raise SendBusy(
                f"shard {shard} of send {send_id!r} is already running in another process",
                hint="let it finish; running the same command afterwards resumes it if needed",
            )

    def pin_shards(self, send_id: str, count: int) -> None:
        """Record that the send is split ``count`` ways; a different split of it is refused (it would overlap)."""
        if not sends.pin_shards(self.conn, send_id, count):
            pinned = sends.pinned_shards(self.conn, send_id)
            raise DeliveryError(
                f"send {send_id!r} is split into {pinned or '?'} shards, not {count}",
                hint=f"use --shard K/{pinned or 'N'}, or resume it whole without --shard",
            )

    def seq_count(self, send_id: str) -> int:
        """Ledger rows of the send (seq runs 0..n-1 over every CSV row, skipped ones included)."""
        return sends.seq_count(self.conn, send_id)

    def find(self, send_id: str) -> Send | None:
        """The send, its status as engine.send_status tells it (never a dead process's 'sending')."""
        return sends.find(self.conn, send_id)

    def create(self, record: SendRecord, items: Sequence[LedgerItem], plan: PlanSummary) -> None:
        """Insert the send (status 'sending', held by this session) and all its rows (COPY)."""
        with self.conn.transaction():
            sends.insert(self.conn, record, plan, items)

    def reopen(
        self, send_id: str, *, resend_in_flight: bool, seqs: tuple[int, int] = ALL_ROWS, shared: bool = False
    ) -> tuple[int, int]:
        """Prepare a resumed send; return (rows found in flight, retryable failures queued again).

        Rows still ``in_flight`` were handed to FCM by an attempt that died before recording the
        answer: they may have been delivered. By default they become failed IN_FLIGHT_UNKNOWN,
        are recorded in user_notifications as ``in_doubt`` (cadence counts them) and are not sent
        again (at most once); ``resend_in_flight`` queues them (and earlier such rows) again
        instead (at least once: clients can drop the repeat by ``data.run_id``). A shard reopens only
        its own ``seqs`` (another shard's rows in flight are that shard's, still running) and, being
        ``shared``, names no single holder.
        """
        with self.conn.transaction():
            if resend_in_flight:
                in_flight = sends.requeue_in_flight(self.conn, send_id, seqs)
            else:
                record_in_doubt(self.conn, send_id, seqs)
                in_flight = sends.fail_in_flight(self.conn, send_id, seqs)
            retry = sends.requeue_retryable(self.conn, send_id, seqs)
            sends.reopen(self.conn, send_id, shared=shared)
        return in_flight, retry

    def pending(self, send_id: str, limit: int | None = None, seqs: tuple[int, int] = ALL_ROWS) -> list[LedgerItem]:
        return sends.pending(self.conn, send_id, limit, seqs)

    def commit(self, record: SendRecord, results: Sequence[ItemResult], claim: Sequence[LedgerItem]) -> list[SentPush]:
        """One transaction: answers, their sent-notification records and dead tokens; then the next claims.

        A claimed row is ``in_flight`` from before its request until its answer is committed here.
        Sent pushes are recorded at the state database's clock (``sent_at`` None), the clock cadence
        reads.
        """
        sent = [
            SentPush(
                user_id=r.item.user_id,
                layer_id=record.layer_id,
                sent_at=None,
                push_title=r.item.title,
                push_body=r.item.body,
                audience_description=record.audience_description,
                deep_link=r.item.deep_link,
                send_key=send_key(record.send_id, r.item.user_id),
            )
            for r in results
            if r.status is ItemStatus.SENT
        ]
        dead = [r for r in results if r.dead_token and r.item.token]
        seqs = [item.seq for item in claim]
        # one statement for answers and claims when they are different rows (always, from the sender)
        together = bool(results and seqs) and not {r.item.seq for r in results}.intersection(seqs)
        with self.conn.transaction():
            if together:
                sends.record_and_claim(self.conn, record.send_id, results, seqs)
            elif results:
                sends.record_results(self.conn, record.send_id, results)
            record_sent(self.conn, sent)
            if dead:
                sends.add_dead_tokens(self.conn, record.send_id, dead)
            if seqs and not together:
                sends.claim(self.conn, record.send_id, seqs)
        return sent

    def finish(self, send_id: str, status: SendStatus, last_error: str | None = None) -> None:
        """The send's final word for this run; the lock is about to go, so no holder either."""
        sends.finish(self.conn, send_id, status, last_error)

    def finish_shard(self, send_id: str, final: Callable[[], tuple[SendStatus, str | None]]) -> bool:
        """Leave the send as a shard; the last shard out writes the send's status, ``final()``.

        Under the send row's lock, so of two shards ending together exactly one sees the other gone.
        """
        with self.conn.transaction():
            sends.lock_row(self.conn, send_id)
            sends.unlock_shared(self.conn, send_id)
            if sends.held_shared(self.conn, send_id):
                return False
            status, last_error = final()
            self.finish(send_id, status, last_error)
            return True

    def tally(self, send_id: str, seqs: tuple[int, int] = ALL_ROWS) -> Tally:
        return sends.tally(self.conn, send_id, seqs)

    def dead_tokens(self, tokens: Iterable[str]) -> dict[str, str]:
        """Which of ``tokens`` FCM declared dead, with the code it gave."""
        return sends.dead_tokens(self.conn, tokens)
