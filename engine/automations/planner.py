"""Which automation runs exist: recompute due runs from schedules.yaml on every tick.

Runs are rows unique per (automation, T), so every replica may plan at once: the first
insert wins, the others see the row. Every unfinished run is reconciled on each tick: its
next phase job is (re)queued, so a job lost with a dead worker is recreated from the run's
persisted status (a duplicate is harmless: the phase reads the status and does nothing).
A T that passed while no scheduler ran is recorded
by the missed-run policy (skip: recorded as skipped with the reason; late: planned if it can
still start within the grace), never sent in a burst after an outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import psycopg

from engine.automations.timeline import PHASE_OF, Phase, due_at, send_times, timeline
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
            if now > line.latest_start:
                missed = automation_runs.create_run(
                    conn,
                    automation_id=automation.id,
                    send_at=send_at,
                    kind=RunKind.SCHEDULED,
                    status=AutomationRunStatus.SKIPPED,
                    worker=worker,
                    reason=f"missed: no scheduler was running between "
                    f"{line.generate_at:%H:%M:%S} and {line.latest_start:%H:%M:%S} "
                    f"UTC (missed policy {automation.missed_policy.value})",
                )
                if missed and on_missed:
                    on_missed(missed)
            else:
                automation_runs.create_run(
                    conn, automation_id=automation.id, send_at=send_at, kind=RunKind.SCHEDULED, worker=worker
                )
    waiting = []
    for run in automation_runs.unfinished_runs(conn):
        owner = schedules.automation(run.automation_id)  # gone from the file: abandoned at once
        phase = PHASE_OF[run.status]
        waiting.append(Planned(run.id, phase, due_at(phase, timeline(owner, run.send_at), now) if owner else now))
    return waiting
