"""The persisted pause switch of each automation: the only module with SQL on engine.automation_controls."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import class_row, scalar_row

from engine.state.model import Control


def control(conn: psycopg.Connection, automation_id: str) -> Control:
    """The automation's switch; the first call for an automation records it as seen now."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO engine.automation_controls (automation_id) VALUES (%s) ON CONFLICT DO NOTHING",
            (automation_id,),
        )
        found = (
            conn.cursor(row_factory=class_row(Control))
            .execute(
                "SELECT paused, reason, first_seen_at FROM engine.automation_controls WHERE automation_id = %s",
                (automation_id,),
            )
            .fetchone()
        )
    if found is None:  # inserted above, in this transaction
        raise AssertionError(f"no control row for {automation_id}")
    return found


def set_paused(conn: psycopg.Connection, automation_id: str, paused: bool, reason: str | None) -> bool:
    """Persist the switch; True when it changed."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO engine.automation_controls AS c (automation_id, paused, reason) VALUES (%s, %s, %s) "
            "ON CONFLICT (automation_id) DO UPDATE SET paused = excluded.paused, reason = excluded.reason, "
            "updated_at = now() WHERE c.paused IS DISTINCT FROM excluded.paused "
            "RETURNING automation_id",
            (automation_id, paused, reason),
        ).fetchone()
    return row is not None


def mark_planned(conn: psycopg.Connection, automation_id: str, now: datetime) -> datetime | None:
    """Record that a scheduler plans the automation at ``now``; return when one last did (None: never).

    The row stays locked until the caller's transaction ends, so replicas planning at once take turns."""
    control(conn, automation_id)
    with conn.transaction():
        before = (
            conn.cursor(row_factory=scalar_row)
            .execute(
                "SELECT planned_at FROM engine.automation_controls WHERE automation_id = %s FOR UPDATE",
                (automation_id,),
            )
            .fetchone()
        )
        conn.execute(
            "UPDATE engine.automation_controls SET planned_at = greatest(planned_at, %s) WHERE automation_id = %s",
            (now, automation_id),
        )
    return before
