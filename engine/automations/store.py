"""Automation runs, their phase history and the pause switch in the state database.

Every status change is one conditional UPDATE (``WHERE status = ANY(expected)``): two
replicas racing on one run, or a cancel racing the live send, cannot both win.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from engine.automations.model import AutomationRun, PhaseEvent, RunKind, RunStatus

_COLUMNS = ("id, automation_id, send_at, kind, status, reason, audience_run_id, run_dir, frozen, audience_size, "
            "sent, failed, cadence_excluded, updated_at")
_RUN_NAMESPACE = uuid.UUID("5d1b8f1e-6c57-4d0e-9d0a-3f9a4c2b7e10")


def run_id_for(automation_id: str, send_at: datetime) -> str:
    """The same (automation, T) always gets the same id, whichever replica computes it."""
    return str(uuid.uuid5(_RUN_NAMESPACE, f"{automation_id}@{send_at.isoformat()}"))


def _run(row: dict[str, Any]) -> AutomationRun:
    return AutomationRun(
        id=str(row["id"]), automation_id=row["automation_id"], send_at=row["send_at"], kind=RunKind(row["kind"]),
        status=RunStatus(row["status"]), reason=row["reason"],
        audience_run_id=str(row["audience_run_id"]) if row["audience_run_id"] else None, run_dir=row["run_dir"],
        frozen=dict(row["frozen"] or {}), audience_size=row["audience_size"], sent=row["sent"],
        failed=row["failed"], cadence_excluded=row["cadence_excluded"], updated_at=row["updated_at"])


def _record(conn: psycopg.Connection, run_id: str, status: RunStatus, detail: str | None, worker: str | None) -> None:
    conn.execute("INSERT INTO engine.automation_run_phases (run_id, status, detail, worker) VALUES (%s, %s, %s, %s)",
                 (run_id, status.value, detail, worker))


def create_run(conn: psycopg.Connection, *, automation_id: str, send_at: datetime, kind: RunKind,
               status: RunStatus = RunStatus.SCHEDULED, reason: str | None = None,
               worker: str | None = None) -> AutomationRun | None:
    """Insert the run; None when (automation, T) already exists (another replica made it)."""
    with conn.transaction():
        row = conn.cursor(row_factory=dict_row).execute(
            f"INSERT INTO engine.automation_runs (id, automation_id, send_at, kind, status, reason) "
            f"VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (automation_id, send_at) DO NOTHING RETURNING {_COLUMNS}",
            (run_id_for(automation_id, send_at), automation_id, send_at, kind.value, status.value, reason)).fetchone()
        if row:
            _record(conn, str(row["id"]), status, reason, worker)
    return _run(row) if row else None


def get_run(conn: psycopg.Connection, run_id: str) -> AutomationRun | None:
    try:
        uuid.UUID(run_id)
    except ValueError:
        return None
    row = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE id = %s", (run_id,)).fetchone()
    return _run(row) if row else None


def transition(conn: psycopg.Connection, run_id: str, expected: Iterable[RunStatus], to: RunStatus, *,
               detail: str | None = None, worker: str | None = None, **fields: Any) -> AutomationRun | None:
    """Move the run to ``to`` if it is in one of ``expected``; record it; None when it was not."""
    sets = ", ".join(f"{name} = %s" for name in fields)
    values = [Jsonb(v) if isinstance(v, dict) else v for v in fields.values()]
    with conn.transaction():
        row = conn.cursor(row_factory=dict_row).execute(
            f"UPDATE engine.automation_runs SET status = %s, reason = coalesce(%s, reason), updated_at = now()"
            f"{', ' + sets if sets else ''} WHERE id = %s AND status = ANY(%s) RETURNING {_COLUMNS}",
            [to.value, detail, *values, run_id, [s.value for s in expected]]).fetchone()
        if row:
            _record(conn, run_id, to, detail, worker)
    return _run(row) if row else None


def phases(conn: psycopg.Connection, run_id: str) -> list[PhaseEvent]:
    rows = conn.execute("SELECT status, at, detail, worker FROM engine.automation_run_phases WHERE run_id = %s "
                        "ORDER BY id", (run_id,)).fetchall()
    return [PhaseEvent(RunStatus(s), at, d, w) for s, at, d, w in rows]


def recent_runs(conn: psycopg.Connection, automation_id: str, limit: int = 5) -> list[AutomationRun]:
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE automation_id = %s ORDER BY send_at DESC LIMIT %s",
        (automation_id, limit)).fetchall()
    return [_run(r) for r in rows]


def runs_between(conn: psycopg.Connection, automation_id: str, start: datetime, end: datetime) -> set[datetime]:
    rows = conn.execute("SELECT send_at FROM engine.automation_runs WHERE automation_id = %s AND send_at > %s "
                        "AND send_at <= %s", (automation_id, start, end)).fetchall()
    return {r[0] for r in rows}


def unfinished_runs(conn: psycopg.Connection) -> list[AutomationRun]:
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE status <> ALL(%s) ORDER BY send_at",
        ([s.value for s in RunStatus if s.final],)).fetchall()
    return [_run(r) for r in rows]


def control(conn: psycopg.Connection, automation_id: str) -> tuple[bool, str | None, datetime]:
    """(paused, reason, first seen); the first call for an automation records it as seen now."""
    with conn.transaction():
        conn.execute("INSERT INTO engine.automation_controls (automation_id) VALUES (%s) ON CONFLICT DO NOTHING",
                     (automation_id,))
        row = conn.execute("SELECT paused, reason, first_seen_at FROM engine.automation_controls "
                           "WHERE automation_id = %s", (automation_id,)).fetchone()
    assert row is not None
    return bool(row[0]), row[1], row[2]


def set_paused(conn: psycopg.Connection, automation_id: str, paused: bool, reason: str | None) -> bool:
    """Persist the switch; True when it changed."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO engine.automation_controls AS c (automation_id, paused, reason) VALUES (%s, %s, %s) "
            "ON CONFLICT (automation_id) DO UPDATE SET paused = excluded.paused, reason = excluded.reason, "
            "updated_at = now() WHERE c.paused IS DISTINCT FROM excluded.paused "
            "RETURNING automation_id", (automation_id, paused, reason)).fetchone()
    return row is not None
