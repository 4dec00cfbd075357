"""The send ledger's tables (engine.sends, send_items, dead_tokens and the send_status view): the only SQL on them.

Named queries on a caller's connection; none opens a transaction, so the caller (``engine.delivery.ledger``)
groups them: the hot path's answers, dead tokens and next claims are one batched statement each, in one
transaction, never a round trip per push. Rows come back as ``engine.delivery.model`` records.

The send's advisory locks live here too: engine.send_status reports ``sending`` exactly while a session
holds the send's lock (class ``LOCK_CLASS``, key ``hashtext(send_id)``), so the view and the locks are
one contract.
"""

from __future__ import annotations

import json
from typing import Iterable, Sequence

import psycopg
from psycopg.rows import class_row, scalar_row

from engine.delivery.model import (
    ALL_ROWS,
    IN_FLIGHT_UNKNOWN,
    ItemResult,
    ItemStatus,
    LedgerItem,
    PlanSummary,
    Send,
    SendRecord,
    SendStatus,
    Tally,
    TallyRow,
    send_key,
)

LOCK_CLASS = 0x73656E64  # "send": engine.send_status reads it (migration 0007)
_SHARD_LOCK_CLASS = 0x73686172  # "shar"

_SEND_COLUMNS = (
    "s.send_id, s.mode, s.run_id::text, s.template, s.output, s.layer_id, s.source_file,"
    " s.source_sha256, s.template_sha256, s.audience_description, s.as_of, s.plan"
)


# ---- the send's locks ---------------------------------------------------------------------------


def try_lock(conn: psycopg.Connection, send_id: str, *, shared: bool = False) -> bool:
    """Take the send's session lock, exclusively (a whole send) or shared (a shard); False when held."""
    function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    return _try(conn, function, LOCK_CLASS, send_id)


def try_lock_shard(conn: psycopg.Connection, send_id: str, shard: str) -> bool:
    """Take the session lock of the send's shard ``shard`` ("K/N"); False when another process holds it."""
    return _try(conn, "pg_try_advisory_lock", _SHARD_LOCK_CLASS, f"{send_id}#{shard}")


def _try(conn: psycopg.Connection, function: str, lock_class: int, key: str) -> bool:
    cur = conn.cursor(row_factory=scalar_row)
    return bool(cur.execute(f"SELECT {function}(%s, hashtext(%s))", (lock_class, key)).fetchone())


def unlock_shared(conn: psycopg.Connection, send_id: str) -> None:
    """Release this session's shared lock on the send."""
    conn.execute("SELECT pg_advisory_unlock_shared(%s, hashtext(%s))", (LOCK_CLASS, send_id))


def held_shared(conn: psycopg.Connection, send_id: str) -> bool:
    """Whether some session (a shard still sending) holds the send's lock shared; release this one's first."""
    cur = conn.cursor(row_factory=scalar_row)
    return bool(
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND granted"
            " AND mode = 'ShareLock' AND classid = %s::bigint::oid AND objsubid = 2"
            " AND objid = ((hashtext(%s)::bigint + 4294967296) %% 4294967296)::text::oid)",
            (LOCK_CLASS, send_id),
        ).fetchone()
    )


def lock_row(conn: psycopg.Connection, send_id: str) -> None:
    """Lock the send's row until the caller's transaction ends (shards ending together take turns)."""
    conn.execute("SELECT 1 FROM engine.sends WHERE send_id = %s FOR UPDATE", (send_id,))


def sending_now(conn: psycopg.Connection, send_ids: Sequence[str]) -> list[str]:
    """Which of ``send_ids`` some process is sending right now (engine.send_status)."""
    cur = conn.cursor(row_factory=scalar_row)
    return cur.execute(
        "SELECT send_id FROM engine.send_status WHERE send_id = ANY(%s) AND status = %s",
        (list(send_ids), SendStatus.SENDING),
    ).fetchall()


# ---- sends --------------------------------------------------------------------------------------


def find(conn: psycopg.Connection, send_id: str) -> Send | None:
    """The send, its status as engine.send_status tells it (never a dead process's 'sending')."""
    cur = conn.cursor(row_factory=class_row(Send))
    return cur.execute(
        f"SELECT {_SEND_COLUMNS}, v.status FROM engine.sends AS s"
        " JOIN engine.send_status AS v USING (send_id) WHERE s.send_id = %s",
        (send_id,),
    ).fetchone()


def of_run(conn: psycopg.Connection, run_id: str) -> list[Send]:
    """Every send of an audience run, oldest first, with the status its last process recorded."""
    cur = conn.cursor(row_factory=class_row(Send))
    return cur.execute(
        f"SELECT {_SEND_COLUMNS}, s.status FROM engine.sends AS s WHERE s.run_id = %s ORDER BY s.created_at, s.send_id",
        (run_id,),
    ).fetchall()


def insert(conn: psycopg.Connection, record: SendRecord, plan: PlanSummary, items: Iterable[LedgerItem]) -> None:
    """The send (status 'sending', held by this session) and all its rows (COPY)."""
    conn.execute(
        "INSERT INTO engine.sends (send_id, mode, run_id, template, audience, output, layer_id,"
        " source_file, source_sha256, template_sha256, audience_description, as_of, plan, status,"
        " holder_pid) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, pg_backend_pid())",
        (
            record.send_id,
            record.mode,
            record.run_id,
            record.template,
            record.audience,
            record.output,
            record.layer_id,
            record.source_file,
            record.source_sha256,
            record.template_sha256,
            record.audience_description,
            record.as_of,
            json.dumps(plan.to_json()),
            SendStatus.SENDING,
        ),
    )
    with conn.cursor().copy(
        "COPY engine.send_items (send_id, seq, user_id, idempotency_key, token, title, body,"
        " deep_link, status, reason, variant) FROM STDIN"
    ) as copy:
        for item in items:
            copy.write_row(
                (
                    record.send_id,
                    item.seq,
                    item.user_id,
                    send_key(record.send_id, item.user_id),
                    item.token,
                    item.title,
                    item.body,
                    item.deep_link,
                    item.status,
                    item.reason,
                    item.variant,
                )
            )


def pin_shards(conn: psycopg.Connection, send_id: str, count: int) -> bool:
    """Record that the send is split ``count`` ways; False when it is pinned to another split."""
    return (
        conn.execute(
            "UPDATE engine.sends SET shards = %s WHERE send_id = %s"
            " AND (shards IS NULL OR shards = %s) RETURNING shards",
            (count, send_id, count),
        ).fetchone()
        is not None
    )


def pinned_shards(conn: psycopg.Connection, send_id: str) -> int | None:
    """How many ways the send is split (None: not yet, or no such send)."""
    cur = conn.cursor(row_factory=scalar_row)
    return cur.execute("SELECT shards FROM engine.sends WHERE send_id = %s", (send_id,)).fetchone()


def reopen(conn: psycopg.Connection, send_id: str, *, shared: bool) -> None:
    """The send is being sent again: 'sending', held by this session (or, ``shared``, by no single one)."""
    conn.execute(
        "UPDATE engine.sends SET status = %s, holder_pid = CASE WHEN %s THEN NULL ELSE pg_backend_pid() END,"
        " last_error = NULL, updated_at = now() WHERE send_id = %s",
        (SendStatus.SENDING, shared, send_id),
    )


def finish(conn: psycopg.Connection, send_id: str, status: SendStatus, last_error: str | None = None) -> None:
    """The send's final word for this run; its lock is about to go, so no holder either."""
    conn.execute(
        "UPDATE engine.sends SET status = %s, last_error = %s, holder_pid = NULL,"
        " updated_at = now() WHERE send_id = %s",
        (status, last_error, send_id),
    )


# ---- send items ---------------------------------------------------------------------------------


def seq_count(conn: psycopg.Connection, send_id: str) -> int:
    """Ledger rows of the send (seq runs 0..n-1 over every CSV row, skipped ones included)."""
    cur = conn.cursor(row_factory=scalar_row)
    return int(
        cur.execute("SELECT coalesce(max(seq) + 1, 0) FROM engine.send_items WHERE send_id = %s", (send_id,)).fetchone()
        or 0
    )


def requeue_in_flight(conn: psycopg.Connection, send_id: str, seqs: tuple[int, int]) -> int:
    """Rows in flight, or failed as in doubt earlier, back to pending (sent again: at least once); how many."""
    return conn.execute(
        "UPDATE engine.send_items SET status = %s, reason = NULL, updated_at = now()"
        " WHERE send_id = %s AND seq >= %s AND seq < %s AND (status = %s OR (status = %s AND reason = %s))",
        (ItemStatus.PENDING, send_id, *seqs, ItemStatus.IN_FLIGHT, ItemStatus.FAILED, IN_FLIGHT_UNKNOWN),
    ).rowcount


def fail_in_flight(conn: psycopg.Connection, send_id: str, seqs: tuple[int, int]) -> int:
    """Rows in flight become failed IN_FLIGHT_UNKNOWN, never retried (at most once); how many."""
    return conn.execute(
        "UPDATE engine.send_items SET status = %s, reason = %s, retryable = false, updated_at = now()"
        " WHERE send_id = %s AND seq >= %s AND seq < %s AND status = %s",
        (ItemStatus.FAILED, IN_FLIGHT_UNKNOWN, send_id, *seqs, ItemStatus.IN_FLIGHT),
    ).rowcount


def requeue_retryable(conn: psycopg.Connection, send_id: str, seqs: tuple[int, int]) -> int:
    """Retryable failures back to pending; how many."""
    return conn.execute(
        "UPDATE engine.send_items SET status = %s, updated_at = now()"
        " WHERE send_id = %s AND seq >= %s AND seq < %s AND status = %s AND retryable",
        (ItemStatus.PENDING, send_id, *seqs, ItemStatus.FAILED),
    ).rowcount


def pending(conn: psycopg.Connection, send_id: str, limit: int | None, seqs: tuple[int, int]) -> list[LedgerItem]:
    """The send's pending rows in ``seqs``, in order, at most ``limit``."""
    cur = conn.cursor(row_factory=class_row(LedgerItem))
    return cur.execute(
        "SELECT seq, user_id::text AS user_id, status, reason, token, title, body, deep_link FROM engine.send_items"
        " WHERE send_id = %s AND seq >= %s AND seq < %s AND status = %s ORDER BY seq LIMIT %s",
        (send_id, *seqs, ItemStatus.PENDING, limit),
    ).fetchall()


def record_results(conn: psycopg.Connection, send_id: str, results: Sequence[ItemResult]) -> None:
    """Every answer in one statement: status, reason (the FCM code), retryable, message id."""
    conn.execute(
        "UPDATE engine.send_items AS i SET status = v.status, reason = v.reason,"
        " retryable = v.retryable, message_id = v.message_id, updated_at = now()"
        " FROM unnest(%s::int[], %s::text[], %s::text[], %s::bool[], %s::text[])"
        "   AS v(seq, status, reason, retryable, message_id)"
        " WHERE i.send_id = %s AND i.seq = v.seq",
        (
            [r.item.seq for r in results],
            [r.status for r in results],
            [r.code for r in results],
            [r.retryable for r in results],
            [r.message_id for r in results],
            send_id,
        ),
    )


def claim(conn: psycopg.Connection, send_id: str, seqs: Sequence[int]) -> None:
    """The rows about to be handed to FCM: in flight, one more attempt each."""
    conn.execute(
        "UPDATE engine.send_items SET status = %s, attempts = attempts + 1, updated_at = now()"
        " WHERE send_id = %s AND seq = ANY(%s)",
        (ItemStatus.IN_FLIGHT, send_id, list(seqs)),
    )


def record_and_claim(
    conn: psycopg.Connection, send_id: str, results: Sequence[ItemResult], seqs: Sequence[int]
) -> None:
    """``record_results`` and ``claim`` in one statement (the sender's hot path: one round trip less a commit).

    The answered rows and the claimed ``seqs`` must be different rows (the sender never claims a row
    whose answer is not yet committed); a claimed row keeps its reason, retryable and message id.
    """
    claimed = len(seqs)
    conn.execute(
        "UPDATE engine.send_items AS i SET status = v.status,"
        " reason = CASE WHEN v.claimed THEN i.reason ELSE v.reason END,"
        " retryable = CASE WHEN v.claimed THEN i.retryable ELSE v.retryable END,"
        " message_id = CASE WHEN v.claimed THEN i.message_id ELSE v.message_id END,"
        " attempts = i.attempts + v.claimed::int, updated_at = now()"
        " FROM unnest(%s::int[], %s::text[], %s::text[], %s::bool[], %s::text[], %s::bool[])"
        "   AS v(seq, status, reason, retryable, message_id, claimed)"
        " WHERE i.send_id = %s AND i.seq = v.seq",
        (
            [r.item.seq for r in results] + list(seqs),
            [r.status for r in results] + [ItemStatus.IN_FLIGHT] * claimed,
            [r.code for r in results] + [None] * claimed,
            [r.retryable for r in results] + [False] * claimed,
            [r.message_id for r in results] + [None] * claimed,
            [False] * len(results) + [True] * claimed,
            send_id,
        ),
    )


def tally(conn: psycopg.Connection, send_id: str, seqs: tuple[int, int] = ALL_ROWS) -> Tally:
    """The send's rows in ``seqs`` counted by (status, reason, retryable)."""
    cur = conn.cursor(row_factory=class_row(TallyRow))
    return Tally.of(
        cur.execute(
            "SELECT status, reason, retryable, count(*) AS count FROM engine.send_items"
            " WHERE send_id = %s AND seq >= %s AND seq < %s GROUP BY 1, 2, 3",
            (send_id, *seqs),
        ).fetchall()
    )


# ---- dead tokens --------------------------------------------------------------------------------


def add_dead_tokens(conn: psycopg.Connection, send_id: str, dead: Sequence[ItemResult]) -> None:
    """Tokens FCM declared dead, with its code, the user and the send that found out (first report wins)."""
    conn.execute(
        "INSERT INTO engine.dead_tokens (token, code, user_id, send_id)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::uuid[], %s::text[])"
        " ON CONFLICT (token) DO NOTHING",
        ([r.item.token for r in dead], [r.code for r in dead], [r.item.user_id for r in dead], [send_id] * len(dead)),
    )


def dead_tokens(conn: psycopg.Connection, tokens: Iterable[str]) -> dict[str, str]:
    """Which of ``tokens`` FCM declared dead, with the code it gave."""
    cur = conn.execute("SELECT token, code FROM engine.dead_tokens WHERE token = ANY(%s)", (list(tokens),))
    return {token: code for token, code in cur}
