"""The scheduler's side of a report: the automation run an audience run belongs to, its phase
transitions (each with its offset from the send time T, so a late phase shows), and an
automation's history, read through the state database's automation-runs repository."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from engine.delivery.model import Outcomes
from engine.report.model import HistoryPoint, PhaseEntry
from engine.state import automation_runs

REPORT_FILE = "report.html"


def _offset(at: datetime, send_at: datetime) -> str:
    seconds = round((at - send_at).total_seconds())
    sign = "-" if seconds < 0 else "+"
    minutes, secs = divmod(abs(seconds), 60)
    return f"T{sign}{minutes}m{secs:02d}s"


def automation_phases(
    conn: psycopg.Connection, audience_run_id: str
) -> tuple[str | None, str | None, list[PhaseEntry], Outcomes | None, dict[str, Any] | None]:
    """(automation id, send time T, phase transitions, outcomes, frozen definition) of the automation run that
    generated this run."""
    run = automation_runs.for_audience_run(conn, audience_run_id)
    if run is None:
        return None, None, [], None, None
    return (
        run.automation_id,
        run.send_at.isoformat(),
        [
            PhaseEntry(
                event.status.value,
                event.at.isoformat(timespec="seconds"),
                _offset(event.at, run.send_at),
                event.detail or "",
                event.worker or "",
            )
            for event in automation_runs.phases(conn, run.id)
        ],
        run.outcomes,
        run.definition,
    )


def automation_history(conn: psycopg.Connection, automation_id: str, limit: int) -> list[HistoryPoint] | None:
    """The last runs of an automation, oldest first; None when no automation run has that id."""
    runs = automation_runs.recent_runs(conn, automation_id, limit)
    if not runs:
        return None
    points = []
    for run in reversed(runs):
        report = Path(run.run_dir) / REPORT_FILE if run.run_dir else None
        points.append(
            HistoryPoint(
                run_id=run.audience_run_id or run.id,
                as_of=run.send_at.isoformat(),
                status=run.status.value,
                size=run.audience_size or 0,
                outcomes=run.outcomes,
                report=str(report) if report and report.exists() else None,
            )
        )
    return points
