"""Automation runs and their phase history: the only module with SQL on engine.automation_runs and
engine.automation_run_phases.

Every status change is one conditional UPDATE (``WHERE status = ANY(expected)``): two replicas racing
on one run, or a cancel racing the live send, cannot both win.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Iterable, Mapping

import psycopg
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from engine.errors import ConfigError
from engine.state.model import FINAL, AutomationRun, AutomationRunStatus, LastSuccess, PhaseEvent, RunKind

_COLUMNS = (
    "id::text AS id, automation_id, send_at, kind, status, reason, audience_run_id::text AS audience_run_id, "
    "run_dir, coalesce(frozen, '{}'::jsonb) AS frozen, audience_size, sent, failed, cadence_excluded, "
    "updated_at, in_doubt, generate_at, test_at, window_opens_at, live_at, latest_start, definition, definition_hash, "
    "held_out"
)
PLANNED = ("generate_at", "test_at", "window_opens_at", "live_at", "latest_start")  # fixed once planned
_RUN_NAMESPACE = uuid.UUID("5d1b8f1e-6c57-4d0e-9d0a-3f9a4c2b7e10")
_FINAL = [s.value for s in FINAL]


def run_id_for(automation_id: str, send_at: datetime) -> str:
    """The same (automation, T) always gets the same id, whichever replica computes it."""
    return str(uuid.uuid5(_RUN_NAMESPACE, f"{automation_id}@{send_at.isoformat()}"))


def _runs(conn: psycopg.Connection) -> psycopg.Cursor[AutomationRun]:
    return conn.cursor(row_factory=class_row(AutomationRun))


def _record(
    conn: psycopg.Connection, run_id: str, status: AutomationRunStatus, detail: str | None, worker: str | None
) -> None:
    conn.execute(
        "INSERT INTO engine.automation_run_phases (run_id, status, detail, worker) VALUES (%s, %s, %s, %s)",
        (run_id, status.value, detail, worker),
    )


def create_run(
    conn: psycopg.Connection,
    *,
    automation_id: str,
    send_at: datetime,
    kind: RunKind,
    status: AutomationRunStatus = AutomationRunStatus.SCHEDULED,
    reason: str | None = None,
    worker: str | None = None,
    planned: Mapping[str, datetime] | None = None,
) -> AutomationRun | None:
    """Insert the run with its ``planned`` phase times (keys of PLANNED); None when (automation, T) already
    exists (another replica made it)."""
    times = [(planned or {}).get(name) for name in PLANNED]
    with conn.transaction():
        run = (
            _runs(conn)
            .execute(
                f"INSERT INTO engine.automation_runs (id, automation_id, send_at, kind, status, reason, "
                f"{', '.join(PLANNED)}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                f"ON CONFLICT (automation_id, send_at) DO NOTHING RETURNING {_COLUMNS}",
                (run_id_for(automation_id, send_at), automation_id, send_at, kind.value, status.value, reason, *times),
            )
            .fetchone()
        )
        if run:
            _record(conn, run.id, status, reason, worker)
    return run


def get_run(conn: psycopg.Connection, run_id: str) -> AutomationRun | None:
    """The run with this id; None when there is none (or ``run_id`` is not a uuid at all)."""
    try:
        uuid.UUID(run_id)
    except ValueError:
        return None
    return _runs(conn).execute(f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE id = %s", (run_id,)).fetchone()


MIN_ID_PREFIX = 8  # the page and `engine status` show a run by its first 8 characters
_ID_PREFIX = re.compile(rf"[0-9a-f-]{{{MIN_ID_PREFIX},36}}")
CANDIDATES = 10  # an ambiguous prefix lists at most this many runs


def resolve_run(conn: psycopg.Connection, given: str) -> AutomationRun:
    """The one run whose id is or starts with ``given`` (8 characters or more, as the page shows it);
    a usage error (exit 2) when it is too short, matches none, or matches several (they are listed)."""
    prefix = given.strip().lower()
    if not _ID_PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"{given[:80]!r} is not an automation run id",
            hint=f"give its id or its first {MIN_ID_PREFIX} characters or more (`engine status` lists them)",
        )
    found = (
        _runs(conn)
        .execute(
            f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE id::text LIKE %s ORDER BY send_at LIMIT %s",
            (prefix + "%", CANDIDATES + 1),
        )
        .fetchall()
    )
    if not found:
        raise ConfigError(f"no automation run {given!r}", hint="`engine status` lists the runs")
    if len(found) > 1:
        listed = "; ".join(f"{r.id} ({r.automation_id} at {r.send_at.isoformat()})" for r in found[:CANDIDATES])
        raise ConfigError(
            f"{given!r} matches more than one automation run: {listed}" + (", ..." if len(found) > CANDIDATES else ""),
            hint="give more characters of the id",
        )
    return found[0]


def for_audience_run(conn: psycopg.Connection, audience_run_id: str) -> AutomationRun | None:
    """The automation run whose generate phase made the audience run ``audience_run_id``, if one did."""
    return (
        _runs(conn)
        .execute(f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE audience_run_id::text = %s", (audience_run_id,))
        .fetchone()
    )


def transition(
    conn: psycopg.Connection,
    run_id: str,
    expected: Iterable[AutomationRunStatus],
    to: AutomationRunStatus,
    *,
    detail: str | None = None,
    worker: str | None = None,
    **fields: Any,
) -> AutomationRun | None:
    """Move the run to ``to`` if it is in one of ``expected``; record it; None when it was not."""
    sets = ", ".join(f"{name} = %s" for name in fields)
    values = [Jsonb(v) if isinstance(v, dict) else v for v in fields.values()]
    with conn.transaction():
        run = (
            _runs(conn)
            .execute(
                f"UPDATE engine.automation_runs SET status = %s, reason = coalesce(%s, reason), updated_at = now()"
                f"{', ' + sets if sets else ''} WHERE id = %s AND status = ANY(%s) RETURNING {_COLUMNS}",
                [to.value, detail, *values, run_id, [s.value for s in expected]],
            )
            .fetchone()
        )
        if run:
            _record(conn, run_id, to, detail, worker)
    return run


def plan_times(conn: psycopg.Connection, run_id: str, planned: Mapping[str, datetime]) -> AutomationRun | None:
    """Fix the phase times of a run made without them (first come wins; never moves times already set)."""
    return (
        _runs(conn)
        .execute(
            f"UPDATE engine.automation_runs SET {', '.join(f'{name} = %s' for name in PLANNED)} "
            f"WHERE id = %s AND generate_at IS NULL RETURNING {_COLUMNS}",
            [*(planned[name] for name in PLANNED), run_id],
        )
        .fetchone()
    ) or get_run(conn, run_id)


def freeze_definition(
    conn: psycopg.Connection, run_id: str, definition: dict[str, Any], digest: str
) -> AutomationRun | None:
    """Store the automation's definition with the run, once: a resumed generate keeps the first copy."""
    return (
        _runs(conn)
        .execute(
            f"UPDATE engine.automation_runs SET definition = %s, definition_hash = %s "
            f"WHERE id = %s AND definition IS NULL RETURNING {_COLUMNS}",
            (Jsonb(definition), digest, run_id),
        )
        .fetchone()
    ) or get_run(conn, run_id)


def set_audience_run(conn: psycopg.Connection, run_id: str, audience_run_id: str) -> None:
    """Remember the audience run generate is about to start, before it starts (a crash then reuses it)."""
    conn.execute("UPDATE engine.automation_runs SET audience_run_id = %s WHERE id = %s", (audience_run_id, run_id))


def phases(conn: psycopg.Connection, run_id: str) -> list[PhaseEvent]:
    """Every status the run entered, in order."""
    return (
        conn.cursor(row_factory=class_row(PhaseEvent))
        .execute(
            "SELECT status, at, detail, worker FROM engine.automation_run_phases WHERE run_id = %s ORDER BY id",
            (run_id,),
        )
        .fetchall()
    )


def recent_runs(conn: psycopg.Connection, automation_id: str, limit: int = 5) -> list[AutomationRun]:
    """The automation's last ``limit`` runs by send time, latest first."""
    return (
        _runs(conn)
        .execute(
            f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE automation_id = %s ORDER BY send_at DESC LIMIT %s",
            (automation_id, limit),
        )
        .fetchall()
    )


def send_times_between(conn: psycopg.Connection, automation_id: str, start: datetime, end: datetime) -> set[datetime]:
    """The send times T in (start, end] that already have a run."""
    return set(
        conn.cursor(row_factory=scalar_row)
        .execute(
            "SELECT send_at FROM engine.automation_runs WHERE automation_id = %s AND send_at > %s AND send_at <= %s",
            (automation_id, start, end),
        )
        .fetchall()
    )


def unfinished_runs(conn: psycopg.Connection, *, limit: int | None = None) -> list[AutomationRun]:
    """Runs not final yet, soonest first (``limit``: only the first ones)."""
    return (
        _runs(conn)
        .execute(
            f"SELECT {_COLUMNS} FROM engine.automation_runs WHERE status <> ALL(%s) ORDER BY send_at LIMIT %s",
            (_FINAL, limit),
        )
        .fetchall()
    )


def last_successes(conn: psycopg.Connection) -> list[LastSuccess]:
    """Per automation, when a run of it last sent (``sent`` or, after its cleanup, ``cleaned``)."""
    return (
        conn.cursor(row_factory=class_row(LastSuccess))
        .execute(
            "SELECT 'automation' AS kind, automation_id AS name, max(updated_at) AS at FROM engine.automation_runs "
            "WHERE status = ANY(%s) GROUP BY automation_id",
            ([AutomationRunStatus.SENT.value, AutomationRunStatus.CLEANED.value],),
        )
        .fetchall()
    )
