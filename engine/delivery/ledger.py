"""The send ledger (engine.sends, engine.send_items, engine.dead_tokens) in the state database.

Every targeted user gets a row before anything is sent; until it is sent or finally fails,
that row is the user's cadence claim (engine/cadence/filter.sql counts it). A push's row is
``in_flight`` (committed) before its HTTP call; its answer, the sent-notification record
cadence reads and any dead token are committed together afterwards (``commit``). A send holds
a PostgreSQL advisory lock for its whole run, so a second copy cannot start while it runs,
and engine.send_status shows 'sending' only while that lock is held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import psycopg
from psycopg.rows import dict_row

from engine.cadence import SentPush, record_sent
from engine.config import Settings
from engine.db import connect
from engine.errors import DeliveryError, SendBusy
from engine.state.migrate import require_migrated

if TYPE_CHECKING:
    from engine.delivery.shard import Shard

IN_FLIGHT_UNKNOWN = "IN_FLIGHT_UNKNOWN"
_LOCK_CLASS = 0x73656E64  # "send"
_SHARD_LOCK_CLASS = 0x73686172  # "shar"
ALL_ROWS = (0, 2**31 - 1)         # a seq range: the whole send


@dataclass(frozen=True)
class SendRecord:
    """What identifies a send and what it was planned from."""

    send_id: str
    mode: str
    layer_id: int
    source_file: str
    source_sha256: str
    template_sha256: str
    as_of: datetime
    audience_description: str
    run_id: str | None = None
    template: str | None = None
    audience: str | None = None
    output: str | None = None


@dataclass(frozen=True)
class LedgerItem:
    """One (send, user) row."""

    seq: int
    user_id: str
    status: str
    reason: str | None = None
    token: str | None = None
    title: str | None = None
    body: str | None = None
    deep_link: str | None = None


@dataclass(frozen=True)
class ItemResult:
    """The final word on one item in one attempt: sent, failed, or back to pending (not sent)."""

    item: LedgerItem
    status: str
    code: str | None = None
    message_id: str | None = None
    retryable: bool = False
    dead_token: bool = False


@dataclass(frozen=True)
class Tally:
    """Counts of a send's rows by (status, reason, retryable)."""

    rows: dict[tuple[str, str | None, bool], int]

    def count(self, status: str) -> int:
        return sum(n for (s, _, _), n in self.rows.items() if s == status)

    def reasons(self, status: str, *, retryable: bool | None = None) -> dict[str, int]:
        out: dict[str, int] = {}
        for (s, reason, again), n in self.rows.items():
            if s == status and (retryable is None or again == retryable):
                out[reason or ""] = out.get(reason or "", 0) + n
        return out


class Ledger:
    """Ledger operations on one autocommit connection; each method is its own transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    @classmethod
    def connect(cls, settings: Settings) -> Ledger:
        conn = connect(settings.require_state_dsn(), retries=settings.connect_retries, autocommit=True,
                       application_name="audience-engine-send")
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
            if not self._try_lock("pg_try_advisory_lock", _LOCK_CLASS, send_id):
                raise SendBusy(f"send {send_id!r} is already running in another process",
                               hint="let it finish; running the same command afterwards resumes it if needed")
            return
        if not self._try_lock("pg_try_advisory_lock_shared", _LOCK_CLASS, send_id):
            raise SendBusy(f"send {send_id!r} is being sent whole by another process: shard {shard} waits",
                           hint="let it finish; it sends this shard's rows too")
        if not self._try_lock("pg_try_advisory_lock", _SHARD_LOCK_CLASS, f"{send_id}#{shard}"):
            self._unlock_shared(send_id)
            raise SendBusy(f"shard {shard} of send {send_id!r} is already running in another process",
                           hint="let it finish; running the same command afterwards resumes it if needed")

    def _try_lock(self, function: str, lock_class: int, key: str) -> bool:
        row = self.conn.execute(f"SELECT {function}(%s, hashtext(%s))", (lock_class, key)).fetchone()
        return bool(row and row[0])

    def _unlock_shared(self, send_id: str) -> None:
        self.conn.execute("SELECT pg_advisory_unlock_shared(%s, hashtext(%s))", (_LOCK_CLASS, send_id))

    def pin_shards(self, send_id: str, count: int) -> None:
        """Record that the send is split ``count`` ways; a different split of it is refused (it would overlap)."""
        row = self.conn.execute("UPDATE engine.sends SET shards = %s WHERE send_id = %s"
                                " AND (shards IS NULL OR shards = %s) RETURNING shards",
                                (count, send_id, count)).fetchone()
        if row is None:
            pinned = self.conn.execute("SELECT shards FROM engine.sends WHERE send_id = %s", (send_id,)).fetchone()
            raise DeliveryError(f"send {send_id!r} is split into {pinned[0] if pinned else '?'} shards, not {count}",
                                hint=f"use --shard K/{pinned[0] if pinned else 'N'}, or resume it whole "
                                     "without --shard")

    def seq_count(self, send_id: str) -> int:
        """Ledger rows of the send (seq runs 0..n-1 over every CSV row, skipped ones included)."""
        row = self.conn.execute("SELECT coalesce(max(seq) + 1, 0) FROM engine.send_items WHERE send_id = %s",
                                (send_id,)).fetchone()
        return int(row[0]) if row else 0

    def find(self, send_id: str) -> dict[str, Any] | None:
        """The send's row, its status as engine.send_status tells it (never a dead process's 'sending')."""
        return self.conn.cursor(row_factory=dict_row).execute(
            "SELECT s.send_id, s.mode, s.run_id::text, s.template, s.layer_id, s.source_file, s.source_sha256,"
            " s.template_sha256, s.audience_description, s.as_of, s.plan, v.status"
            " FROM engine.sends AS s JOIN engine.send_status AS v USING (send_id) WHERE s.send_id = %s",
            (send_id,)).fetchone()

    def create(self, record: SendRecord, items: Sequence[LedgerItem], plan: dict[str, Any]) -> None:
        """Insert the send (status 'sending', held by this session) and all its rows (COPY)."""
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO engine.sends (send_id, mode, run_id, template, audience, output, layer_id,"
                " source_file, source_sha256, template_sha256, audience_description, as_of, plan, status,"
                " holder_pid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'sending',"
                " pg_backend_pid())",
                (record.send_id, record.mode, record.run_id, record.template, record.audience, record.output,
                 record.layer_id, record.source_file, record.source_sha256, record.template_sha256,
                 record.audience_description, record.as_of, json.dumps(plan)))
            with self.conn.cursor().copy(
                    "COPY engine.send_items (send_id, seq, user_id, idempotency_key, token, title, body,"
                    " deep_link, status, reason) FROM STDIN") as copy:
                for item in items:
                    copy.write_row((record.send_id, item.seq, item.user_id, send_key(record.send_id, item.user_id),
                                    item.token, item.title, item.body, item.deep_link, item.status, item.reason))

    def reopen(self, send_id: str, *, resend_in_flight: bool, seqs: tuple[int, int] = ALL_ROWS,
               shared: bool = False) -> tuple[int, int]:
        """Prepare a resumed send; return (rows found in flight, retryable failures queued again).

        Rows still ``in_flight`` were handed to FCM by an attempt that died before recording the
        answer: they may have been delivered. By default they become failed IN_FLIGHT_UNKNOWN,
        are recorded in user_notifications as ``in_doubt`` (cadence counts them) and are not sent
        again (at most once); ``resend_in_flight`` queues them (and earlier such rows) again
        instead (at least once: clients can drop the repeat by ``data.run_id``). A shard reopens only
        its own ``seqs`` (another shard's rows in flight are that shard's, still running) and, being
        ``shared``, names no single holder.
        """
        lo, hi = seqs
        with self.conn.transaction():
            if resend_in_flight:
                in_flight = self.conn.execute(
                    "UPDATE engine.send_items SET status = 'pending', reason = NULL, updated_at = now()"
                    " WHERE send_id = %s AND seq >= %s AND seq < %s"
                    "   AND (status = 'in_flight' OR (status = 'failed' AND reason = %s))",
                    (send_id, lo, hi, IN_FLIGHT_UNKNOWN)).rowcount
            else:
                self.conn.execute(   # attempted when claimed: updated_at is the time it went out
                    "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at, push_title, push_body,"
                    " audience_description, deep_link, send_key, delivery)"
                    " SELECT i.user_id, s.layer_id, i.updated_at, i.title, i.body, s.audience_description,"
                    "        i.deep_link, i.idempotency_key, 'in_doubt'"
                    " FROM engine.send_items AS i JOIN engine.sends AS s ON s.send_id = i.send_id"
                    " WHERE i.send_id = %s AND i.seq >= %s AND i.seq < %s AND i.status = 'in_flight'"
                    " ON CONFLICT (send_key) DO NOTHING", (send_id, lo, hi))
                in_flight = self.conn.execute(
                    "UPDATE engine.send_items SET status = 'failed', reason = %s, retryable = false,"
                    " updated_at = now() WHERE send_id = %s AND seq >= %s AND seq < %s AND status = 'in_flight'",
                    (IN_FLIGHT_UNKNOWN, send_id, lo, hi)).rowcount
            retry = self.conn.execute(
                "UPDATE engine.send_items SET status = 'pending', updated_at = now()"
                " WHERE send_id = %s AND seq >= %s AND seq < %s AND status = 'failed' AND retryable",
                (send_id, lo, hi)).rowcount
            self.conn.execute("UPDATE engine.sends SET status = 'sending',"
                              " holder_pid = CASE WHEN %s THEN NULL ELSE pg_backend_pid() END,"
                              " last_error = NULL, updated_at = now() WHERE send_id = %s", (shared, send_id))
        return in_flight, retry

    def pending(self, send_id: str, limit: int | None = None, seqs: tuple[int, int] = ALL_ROWS) -> list[LedgerItem]:
        cur = self.conn.execute(
            "SELECT seq, user_id::text, status, reason, token, title, body, deep_link FROM engine.send_items"
            " WHERE send_id = %s AND seq >= %s AND seq < %s AND status = 'pending' ORDER BY seq LIMIT %s",
            (send_id, *seqs, limit))
        return [LedgerItem(*row) for row in cur]

    def commit(self, record: SendRecord, results: Sequence[ItemResult], claim: Sequence[LedgerItem]) -> list[SentPush]:
        """One transaction: answers, their sent-notification records and dead tokens; then the next claims.

        A claimed row is ``in_flight`` from before its request until its answer is committed here.
        Sent pushes are recorded at the state database's clock (``sent_at`` None), the clock cadence
        reads.
        """
        sent = [SentPush(user_id=r.item.user_id, layer_id=record.layer_id, sent_at=None,
                         push_title=r.item.title, push_body=r.item.body,
                         audience_description=record.audience_description, deep_link=r.item.deep_link,
                         send_key=send_key(record.send_id, r.item.user_id))
                for r in results if r.status == "sent"]
        dead = [r for r in results if r.dead_token and r.item.token]
        with self.conn.transaction():
            if results:
                self.conn.execute(
                    "UPDATE engine.send_items AS i SET status = v.status, reason = v.reason,"
                    " retryable = v.retryable, message_id = v.message_id, updated_at = now()"
                    " FROM unnest(%s::int[], %s::text[], %s::text[], %s::bool[], %s::text[])"
                    "   AS v(seq, status, reason, retryable, message_id)"
                    " WHERE i.send_id = %s AND i.seq = v.seq",
                    ([r.item.seq for r in results], [r.status for r in results], [r.code for r in results],
                     [r.retryable for r in results], [r.message_id for r in results], record.send_id))
            record_sent(self.conn, sent)
            if dead:
                self.conn.execute(
                    "INSERT INTO engine.dead_tokens (token, code, user_id, send_id)"
                    " SELECT * FROM unnest(%s::text[], %s::text[], %s::uuid[], %s::text[])"
                    " ON CONFLICT (token) DO NOTHING",
                    ([r.item.token for r in dead], [r.code for r in dead], [r.item.user_id for r in dead],
                     [record.send_id] * len(dead)))
            if claim:
                self.conn.execute(
                    "UPDATE engine.send_items SET status = 'in_flight', attempts = attempts + 1, updated_at = now()"
                    " WHERE send_id = %s AND seq = ANY(%s)", (record.send_id, [item.seq for item in claim]))
        return sent

    def finish(self, send_id: str, status: str, last_error: str | None = None) -> None:
        """The send's final word for this run; the lock is about to go, so no holder either."""
        self.conn.execute("UPDATE engine.sends SET status = %s, last_error = %s, holder_pid = NULL,"
                          " updated_at = now() WHERE send_id = %s", (status, last_error, send_id))

    def finish_shard(self, send_id: str, final: Callable[[], tuple[str, str | None]]) -> bool:
        """Leave the send as a shard; the last shard out writes the send's status, ``final()``.

        Under the send row's lock, so of two shards ending together exactly one sees the other gone.
        """
        with self.conn.transaction():
            self.conn.execute("SELECT 1 FROM engine.sends WHERE send_id = %s FOR UPDATE", (send_id,))
            self._unlock_shared(send_id)
            row = self.conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted"
                " AND mode = 'ShareLock' AND classid = %s::bigint::oid AND objsubid = 2"
                " AND objid = ((hashtext(%s)::bigint + 4294967296) %% 4294967296)::text::oid)",
                (_LOCK_CLASS, send_id)).fetchone()
            if row and row[0]:
                return False
            status, last_error = final()
            self.finish(send_id, status, last_error)
            return True

    def tally(self, send_id: str, seqs: tuple[int, int] = ALL_ROWS) -> Tally:
        cur = self.conn.execute(
            "SELECT status, reason, retryable, count(*) FROM engine.send_items"
            " WHERE send_id = %s AND seq >= %s AND seq < %s GROUP BY 1, 2, 3", (send_id, *seqs))
        return Tally({(status, reason, retryable): n for status, reason, retryable, n in cur})

    def dead_tokens(self, tokens: Iterable[str]) -> dict[str, str]:
        """Which of ``tokens`` FCM declared dead, with the code it gave."""
        cur = self.conn.execute("SELECT token, code FROM engine.dead_tokens WHERE token = ANY(%s)", (list(tokens),))
        return dict(cur.fetchall())


def send_key(send_id: str, user_id: str) -> str:
    """The idempotency key of one (send, user): unique in the ledger and in user_notifications."""
    return f"{send_id}:{user_id}"
