"""The cadence tables (engine.user_notifications, engine.notification_layers): the only SQL on them.

Named queries on a caller's connection, inside the caller's transaction: a send records its pushes
in the same transaction as its ledger's answers. Two statements also read the send ledger, kept whole
so each stays one statement: the audience check counts the ledger's claims (``cadence_filter.sql``), and
a resumed send records its pushes in doubt straight from its in-flight rows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from importlib import resources
from typing import Any, Sequence

import psycopg
from psycopg.rows import class_row

from engine.cadence.model import Delivery, SentPush
from engine.db import translate_query_error
from engine.errors import NotMigrated, StateError

_FILTER = resources.files("engine.state").joinpath("cadence_filter.sql").read_text(encoding="utf-8")

_INSERT = """
INSERT INTO engine.user_notifications
    (user_id, layer_id, sent_at, push_title, push_body, audience_description, deep_link, send_key, delivery)
SELECT p.user_id, p.layer_id, coalesce(p.sent_at, now()), p.push_title, p.push_body, p.audience_description,
       p.deep_link, p.send_key, %(delivery)s
FROM unnest(%(user_id)s::uuid[], %(layer_id)s::int[], %(sent_at)s::timestamptz[], %(push_title)s::text[],
            %(push_body)s::text[], %(audience_description)s::text[], %(deep_link)s::text[], %(send_key)s::text[])
    AS p (user_id, layer_id, sent_at, push_title, push_body, audience_description, deep_link, send_key)
ON CONFLICT (send_key) DO UPDATE SET delivery = excluded.delivery, sent_at = excluded.sent_at
    WHERE engine.user_notifications.delivery = 'in_doubt' AND excluded.delivery = 'sent'
"""

# attempted when claimed: a row's updated_at is the time it went out
_IN_DOUBT_FROM_LEDGER = """
INSERT INTO engine.user_notifications
    (user_id, layer_id, sent_at, push_title, push_body, audience_description, deep_link, send_key, delivery)
SELECT i.user_id, s.layer_id, i.updated_at, i.title, i.body, s.audience_description, i.deep_link,
       i.idempotency_key, %s
FROM engine.send_items AS i JOIN engine.sends AS s ON s.send_id = i.send_id
WHERE i.send_id = %s AND i.seq >= %s AND i.seq < %s AND i.status = 'in_flight'
ON CONFLICT (send_key) DO NOTHING
"""

_PUSH_FIELDS = tuple(f.name for f in fields(SentPush))


@dataclass(frozen=True)
class Window:
    """One rule as the check counts it: at least ``max_count`` pushes of ``layers`` after ``since`` block."""

    since: datetime
    max_count: int
    layers: tuple[int, ...]


@dataclass(frozen=True)
class Block:
    """One blocked user: the first window (by position) that blocked them, and the pushes behind it."""

    user_id: str
    rule_ord: int
    pushes: int
    last_sent_at: datetime


def blocked(
    conn: psycopg.Connection, user_ids: Sequence[str], windows: Sequence[Window], as_of: datetime | None
) -> list[Block]:
    """Users of ``user_ids`` (unique) that a window blocks, counting pushes and claims up to ``as_of``
    (None: everything recorded, even a moment after the caller read the clock)."""
    pairs = [(ord_, layer) for ord_, window in enumerate(windows) for layer in window.layers]
    params = {
        "user_ids": list(user_ids),
        "rule_ord": list(range(len(windows))),
        "rule_since": [window.since for window in windows],
        "rule_max": [window.max_count for window in windows],
        "rl_ord": [ord_ for ord_, _ in pairs],
        "rl_layer": [layer for _, layer in pairs],
        "as_of": as_of,
        "horizon": min(window.since for window in windows),
    }
    try:
        return conn.cursor(row_factory=class_row(Block)).execute(_FILTER, params).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as err:
        raise NotMigrated("the state database is not migrated (no engine.user_notifications table)") from err
    except psycopg.Error as err:
        raise translate_query_error(err, what="cadence check") from err


def record(conn: psycopg.Connection, pushes: Sequence[SentPush], delivery: Delivery) -> int:
    """Insert the pushes (unique by ``send_key``) not yet recorded, or confirm one in doubt; how many changed."""
    params: dict[str, Any] = {name: [getattr(push, name) for push in pushes] for name in _PUSH_FIELDS}
    params["delivery"] = delivery
    try:
        return conn.execute(_INSERT, params).rowcount
    except psycopg.errors.ForeignKeyViolation as err:
        raise StateError(
            "a sent push names a layer missing from engine.notification_layers",
            hint="layer ids must exist in the state database (see cadence.yaml)",
        ) from err
    except psycopg.errors.InvalidTextRepresentation as err:
        raise StateError(f"a sent push has a user_id that is not a UUID: {err.diag.message_primary}") from err


def record_in_flight_in_doubt(conn: psycopg.Connection, send_id: str, seqs: tuple[int, int]) -> None:
    """Record the send's rows still in flight in ``seqs`` as pushes in doubt (cadence counts them)."""
    conn.execute(_IN_DOUBT_FROM_LEDGER, (Delivery.IN_DOUBT, send_id, *seqs))
