"""Which automation runs exist: recompute due runs from schedules.yaml on every tick.

Runs are rows unique per (automation, T), so every replica may plan at once: the first
insert wins, the others see the row. Every unfinished run is reconciled on each tick: its
next phase job is (re)queued, so a job lost with a dead worker is recreated from the run's
persisted status (a duplicate is harmless: the phase reads the status and does nothing).
A run keeps the phase times it was planned with: a cron or lead edit applies to runs not yet planned.
A T first seen after its generate time (no scheduler ran, or an edit gave it) goes by the missed-run
policy: skip records it as skipped with the true reason; late moves its whole timeline later, window
kept in full, if its live send still falls within the grace. Never compressed into a burst.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import psycopg

from engine.automations.timeline import (
    ON_TIME,
    PHASE_OF,
    Phase,
    Timeline,
    due_at,
    moved_late,
    run_timeline,
    send_times,
    timeline,
)
from engine.schedules.model import ScheduleFile
from engine.state import automation_runs, controls
from engine.state.model import AutomationRun, AutomationRunStatus, RunKind

HORIZON = timedelta(minutes=10)  # runs are created this long before their generate time
LOOKBACK = timedelta(days=1)  # how far back a missed T is still recorded


@dataclass(frozen=True)
class Planned:
    """An unfinished run and its next phase job."""

    run_id: str
    phase: Phase
    at: datetime


def plan_runs(
    conn: psycopg.Connection,
    schedules: ScheduleFile,
    now: datetime,
    *,
    worker: str | None = None,
    on_missed: Callable[[AutomationRun], None] | None = None,
) -> list[Planned]:
    """Create the runs due soon and record missed ones (``on_missed`` hears of each, once across
    replicas); return every unfinished run's next phase."""
    for automation in schedules.automations:
        if not automation.enabled:
            continue
        with conn.transaction():  # the automation's control row is locked: replicas plan it in turn
            last_planned = controls.mark_planned(conn, automation.id, now)
            first_seen = controls.control(conn, automation.id).first_seen_at
            since = max(first_seen, now - LOOKBACK)
            until = now + HORIZON + automation.generate_lead
            existing = automation_runs.send_times_between(conn, automation.id, since, until)
            for send_at in send_times(automation, since, until):
                if send_at in existing:
                    continue
                line = timeline(automation, send_at)
                if line.generate_at > now + HORIZON:
                    continue
                if now <= line.generate_at + ON_TIME:
                    _create(conn, automation.id, send_at, line, worker)
                elif moved := moved_late(automation, send_at, now):
                    _create(conn, automation.id, send_at, moved, worker, reason=_late(line, moved, last_planned))
                else:
                    missed = automation_runs.create_run(
                        conn,
                        automation_id=automation.id,
                        send_at=send_at,
                        kind=RunKind.SCHEDULED,
                        status=AutomationRunStatus.SKIPPED,
                        worker=worker,
                        reason=f"missed: {_why(line, now, last_planned)}: its full window could not be kept "
                        f"(missed policy {automation.missed_policy.value})",
                    )
                    if missed and on_missed:
                        on_missed(missed)
    waiting = []
    for run in automation_runs.unfinished_runs(conn):
        kept = run_timeline(run, schedules.automation(run.automation_id))  # None: gone, abandoned at once
        phase = PHASE_OF[run.status]
        waiting.append(Planned(run.id, phase, due_at(phase, kept, now) if kept else now))
    return waiting


def _create(
    conn: psycopg.Connection,
    automation_id: str,
    send_at: datetime,
    line: Timeline,
    worker: str | None,
    reason: str | None = None,
) -> None:
    automation_runs.create_run(
        conn,
        automation_id=automation_id,
        send_at=send_at,
        kind=RunKind.SCHEDULED,
        worker=worker,
        reason=reason,
        planned=line.planned(),
    )


def _why(line: Timeline, now: datetime, last_planned: datetime | None) -> str:
    """Why a T is first planned after its generate time: the file changed while a scheduler was planning
    (a new cron or lead gave this T now), or no scheduler planned at all in between."""
    due = f"generate was due {line.generate_at:%H:%M:%S} UTC"
    if last_planned is not None and last_planned >= line.generate_at:
        return f"{due}, but schedules.yaml gave this T ({line.send_at:%H:%M:%S} UTC) only at {now:%H:%M:%S}"
    since = f"since {last_planned.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}" if last_planned else "before"
    return f"{due}, and no scheduler planned this automation {since} until {now:%H:%M:%S} UTC"


def _late(line: Timeline, moved: Timeline, last_planned: datetime | None) -> str:
    return (
        f"late: {_why(line, moved.generate_at, last_planned)}; every phase moved "
        f"{(moved.send_at - line.send_at).total_seconds():.0f}s later, live at {moved.send_at:%H:%M:%S} UTC "
        f"(missed policy late)"
    )
