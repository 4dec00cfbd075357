"""Built-in tracking: record delivered pushes in engine.user_notifications, once per send key.

One bulk INSERT ... ON CONFLICT (send_key) inside the caller's transaction (``engine.state.cadence``),
so the record commits (or rolls back) together with the delivery ledger's status, and a resumed send
that records the same pushes again adds nothing. A push in doubt (handed to FCM, answer lost) is
recorded with ``delivery = 'in_doubt'`` so cadence counts it; a later confirmed delivery turns it into 'sent'.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Iterable, Mapping

import psycopg

from engine.cadence.model import Delivery, SentPush
from engine.errors import StateError
from engine.state import cadence as history

_FIELDS = tuple(f.name for f in fields(SentPush))


def as_sent_push(row: SentPush | Mapping[str, Any]) -> SentPush:
    """Accept a SentPush or a mapping with its fields (deep_link, texts optional)."""
    if isinstance(row, SentPush):
        return row
    missing = [name for name in ("user_id", "layer_id", "sent_at", "send_key") if row.get(name) in (None, "")]
    if missing:
        raise StateError(f"sent push record lacks {', '.join(missing)}: {dict(row)!r}")
    values: dict[str, Any] = {name: row.get(name) for name in _FIELDS}
    return SentPush(**values)


def record_sent(
    conn: psycopg.Connection, rows: Iterable[SentPush | Mapping[str, Any]], *, in_doubt: bool = False
) -> int:
    """Insert the pushes not yet recorded (by ``send_key``); return how many were new or confirmed.

    ``in_doubt`` records them as maybe delivered. Runs on ``conn`` without committing: the
    caller's transaction decides.
    """
    pushes = list({push.send_key: push for push in reversed([as_sent_push(row) for row in rows])}.values())
    pushes.reverse()  # one row per send key, the first given wins (ON CONFLICT DO UPDATE needs that)
    for push in pushes:
        if not push.send_key:
            raise StateError(f"sent push for user {push.user_id} has no send_key; tracking must be idempotent")
        if push.sent_at is not None and push.sent_at.tzinfo is None:
            raise StateError(f"sent_at of send {push.send_key!r} is naive; pass a timezone-aware time")
    if not pushes:
        return 0
    return history.record(conn, pushes, Delivery.IN_DOUBT if in_doubt else Delivery.SENT)


def record_in_doubt(conn: psycopg.Connection, send_id: str, seqs: tuple[int, int]) -> None:
    """A resumed send's rows still in flight (``seqs``) become pushes in doubt: cadence counts them."""
    history.record_in_flight_in_doubt(conn, send_id, seqs)
