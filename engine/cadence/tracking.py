"""Built-in tracking: record delivered pushes in engine.user_notifications, once per send key.

One bulk INSERT ... ON CONFLICT (send_key) inside the caller's transaction, so the record commits
(or rolls back) together with the delivery ledger's status, and a resumed send that records the
same pushes again adds nothing. A push in doubt (handed to FCM, answer lost) is recorded with
``delivery = 'in_doubt'`` so cadence counts it; a later confirmed delivery turns it into 'sent'.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Iterable, Mapping

import psycopg

from engine.errors import StateError

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


@dataclass(frozen=True)
class SentPush:
    """One push delivered to one user; ``send_key`` identifies the send (e.g. run:push:user)."""

    user_id: str
    layer_id: int
    sent_at: datetime | None             # None: the state database's clock when recorded
    push_title: str | None
    push_body: str | None
    audience_description: str | None
    deep_link: str | None
    send_key: str


_FIELDS = tuple(f.name for f in fields(SentPush))


def as_sent_push(row: SentPush | Mapping[str, Any]) -> SentPush:
    """Accept a SentPush or a mapping with its fields (deep_link, texts optional)."""
    if isinstance(row, SentPush):
        return row
    missing = [name for name in ("user_id", "layer_id", "sent_at", "send_key") if row.get(name) in (None, "")]
    if missing:
        raise StateError(f"sent push record lacks {', '.join(missing)}: {dict(row)!r}")
    fields: dict[str, Any] = {name: row.get(name) for name in _FIELDS}
    return SentPush(**fields)


def record_sent(conn: psycopg.Connection, rows: Iterable[SentPush | Mapping[str, Any]], *,
                in_doubt: bool = False) -> int:
    """Insert the pushes not yet recorded (by ``send_key``); return how many were new or confirmed.

    ``in_doubt`` records them as maybe delivered. Runs on ``conn`` without committing: the
    caller's transaction decides.
    """
    pushes = list({push.send_key: push for push in reversed([as_sent_push(row) for row in rows])}.values())
    pushes.reverse()      # one row per send key, the first given wins (ON CONFLICT DO UPDATE needs that)
    for push in pushes:
        if not push.send_key:
            raise StateError(f"sent push for user {push.user_id} has no send_key; tracking must be idempotent")
        if push.sent_at is not None and push.sent_at.tzinfo is None:
            raise StateError(f"sent_at of send {push.send_key!r} is naive; pass a timezone-aware time")
    if not pushes:
        return 0
    params: dict[str, Any] = {name: [getattr(push, name) for push in pushes] for name in _FIELDS}
    params["delivery"] = "in_doubt" if in_doubt else "sent"
    try:
        cursor = conn.execute(_INSERT, params)
    except psycopg.errors.ForeignKeyViolation as err:
        raise StateError("a sent push names a layer missing from engine.notification_layers",
                         hint="layer ids must exist in the state database (see cadence.yaml)") from err
    except psycopg.errors.InvalidTextRepresentation as err:
        raise StateError(f"a sent push has a user_id that is not a UUID: {err.diag.message_primary}") from err
    return cursor.rowcount
