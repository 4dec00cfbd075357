"""The impact a run report and a history page show, read from engine.impact (``engine.experiments.views``).

A run's section waits for the longest conversion window of the definition the run froze: before it
has passed the report says until when; after, it shows what was measured with the window closed
(the scheduler measures the run then and writes the report again; so does ``engine impact``).
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from engine.experiments import views
from engine.report.model import ImpactHistory, ImpactSection
from engine.schedules.definition import Definition
from engine.schedules.durations import format_duration
from engine.state import automation_runs
from engine.state.model import AutomationRun, AutomationRunStatus, RunKind


def window_closes_at(run: AutomationRun) -> datetime | None:
    """The live send plus the longest conversion window the run froze; None: no conversion, or nothing sent."""
    if not run.definition or run.kind is RunKind.TRIGGERED_TEST or run.status is AutomationRunStatus.CANCELLED:
        return None
    if run.sent is None:
        return None
    conversions = Definition.from_json(run.definition).conversions
    # as engine.automations.timeline.measure_at (the scheduler's; a layer the report does not import)
    return run.send_at + max(c.within for c in conversions) if conversions else None


def impact_section(conn: psycopg.Connection, audience_run_id: str, now: datetime) -> ImpactSection | None:
    """The impact section of the automation run that generated ``audience_run_id`` (None: none to show)."""
    run = automation_runs.for_audience_run(conn, audience_run_id)
    closes_at = window_closes_at(run) if run else None
    if run is None or closes_at is None:
        return None
    assert run.definition is not None
    conversions = Definition.from_json(run.definition).conversions
    # measured with the window closed is the truth (the measurement's clock); else the report's own clock says
    lines = [line for line in views.of_run(conn, run.id) if line.window_closed]
    closed = bool(lines) or now >= closes_at
    return ImpactSection(
        automation=run.automation_id,
        automation_run=run.id,
        conversions=tuple(f"{c.name} (within {format_duration(c.within)})" for c in conversions),
        closes_at=closes_at.isoformat(timespec="seconds"),
        closed=closed,
        held_out=run.held_out or 0,
        lines=tuple(lines),
    )


def impact_history(conn: psycopg.Connection, automation_id: str, since: datetime | None) -> ImpactHistory:
    """The automation's measured runs sent since ``since`` (its history's first run), closed windows only."""
    runs = [r for r in views.of_automation(conn, automation_id, since=since) if r.window_closed]
    return ImpactHistory(tuple(dict.fromkeys(r.conversion for r in runs)), tuple(runs))
