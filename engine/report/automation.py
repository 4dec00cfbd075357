"""The scheduler's side of a report: the automation run an audience run belongs to, its phase
transitions (each with its offset from the send time T, so a late phase shows), and an
automation's history. Read with plain SQL from the state tables of migration 0006, so the
report does not depend on the scheduler's code."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import psycopg

from engine.report.model import HistoryPoint, PhaseEntry

REPORT_FILE = "report.html"


def _has_tables(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('engine.automation_runs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _offset(at: datetime, send_at: datetime) -> str:
    seconds = round((at - send_at).total_seconds())
    sign = "-" if seconds < 0 else "+"
    minutes, secs = divmod(abs(seconds), 60)
    return f"T{sign}{minutes}m{secs:02d}s"


def automation_phases(conn: psycopg.Connection, audience_run_id: str) -> tuple[str | None, str | None,
                                                                                list[PhaseEntry]]:
    """(automation id, send time T, phase transitions) of the automation run that generated this run."""
    if not _has_tables(conn):
        return None, None, []
    row = conn.execute("SELECT id, automation_id, send_at FROM engine.automation_runs WHERE audience_run_id = %s",
                       (audience_run_id,)).fetchone()
    if row is None:
        return None, None, []
    events = conn.execute("SELECT status, at, coalesce(detail, ''), coalesce(worker, '') "
                          "FROM engine.automation_run_phases WHERE run_id = %s ORDER BY id", (row[0],)).fetchall()
    return row[1], row[2].isoformat(), [PhaseEntry(status, at.isoformat(timespec="seconds"), _offset(at, row[2]),
                                                   detail, worker) for status, at, detail, worker in events]


def automation_history(conn: psycopg.Connection, automation_id: str, limit: int) -> list[HistoryPoint] | None:
    """The last runs of an automation, oldest first; None when no automation run has that id."""
    if not _has_tables(conn):
        return None
    rows = conn.execute(
        "SELECT coalesce(audience_run_id, id)::text, send_at, status, coalesce(audience_size, 0), "
        "coalesce(sent, 0), coalesce(failed, 0), run_dir FROM engine.automation_runs "
        "WHERE automation_id = %s ORDER BY send_at DESC LIMIT %s", (automation_id, limit)).fetchall()
    if not rows:
        return None
    points = []
    for run_id, send_at, status, size, sent, failed, run_dir in reversed(rows):
        report = Path(run_dir) / REPORT_FILE if run_dir else None
        points.append(HistoryPoint(run_id=run_id, as_of=send_at.isoformat(), status=status, size=size, sent=sent,
                                   failed=failed, report=str(report) if report and report.exists() else None))
    return points
