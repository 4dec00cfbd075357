"""What the scheduler holds and what will fire: ``engine status`` and ``engine plan``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean
from typing import Any

from engine.automations.model import AutomationStatus, SchedulerStatus
from engine.automations.timeline import Timeline, next_send, send_times, timeline
from engine.config import Settings
from engine.schedules.definition import drift
from engine.schedules.loader import load_schedules
from engine.state import automation_runs, controls
from engine.state.connection import state_connection
from engine.state.model import AutomationRun, AutomationRunStatus, RunKind

HISTORY = 7  # past runs read for the expected size and cadence exclusions


def scheduler_status(settings: Settings, *, now: datetime, recent: int = 5) -> SchedulerStatus:
    """Per automation: paused or not, the next T, the run in progress, the last runs."""
    schedules = load_schedules(settings.project_dir)
    out = []
    with state_connection(settings) as conn:
        for automation in schedules.automations:
            switch = controls.control(conn, automation.id)
            runs = automation_runs.recent_runs(conn, automation.id, recent + 5)
            nxt = next_send(automation, now) if automation.enabled else None
            in_progress = next(
                (
                    r
                    for r in runs
                    if not r.status.final
                    and r.send_at <= now + timedelta(days=1)
                    and r.status is not AutomationRunStatus.SCHEDULED
                ),
                None,
            )
            out.append(
                AutomationStatus(
                    automation_id=automation.id,
                    enabled=automation.enabled,
                    paused=switch.paused,
                    pause_reason=switch.reason,
                    timezone=automation.timezone,
                    next_send_at=nxt,
                    next_send_local=nxt.astimezone(automation.zone) if nxt else None,
                    in_progress=in_progress,
                    recent=tuple(r for r in runs if r.status.final)[:recent],
                    triggered=tuple(reversed([r for r in runs if _not_started_ad_hoc(r)])),
                    changed_since_generate=drift(in_progress.definition, in_progress.automation_id, schedules)
                    if in_progress
                    else (),
                )
            )
    return SchedulerStatus(tuple(out), now)


@dataclass(frozen=True)
class PlannedRun:
    """One run that will fire: its phase times and what history says it will send."""

    automation_id: str
    timezone: str
    timeline: Timeline
    paused: bool
    last_audience_size: int | None
    expected_cadence_excluded: int | None
    projected_send_seconds: float | None
    run_id: str | None = None  # a triggered run already recorded (a cron run gets its id when planned)

    def as_dict(self) -> dict[str, Any]:
        return {
            "automation": self.automation_id,
            "run_id": self.run_id,
            "timezone": self.timezone,
            "send_at_local": self.timeline.send_at.astimezone(_zone(self.timezone)).isoformat(),
            **self.timeline.as_dict(),
            "paused": self.paused,
            "last_audience_size": self.last_audience_size,
            "expected_cadence_excluded": self.expected_cadence_excluded,
            "projected_send_seconds": self.projected_send_seconds,
        }


def _not_started_ad_hoc(run: AutomationRun) -> bool:
    """A triggered run still waiting for its generate phase (cron runs show once they start)."""
    return run.kind is not RunKind.SCHEDULED and run.status is AutomationRunStatus.SCHEDULED


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    return ZoneInfo(name)


def plan_ahead(settings: Settings, *, now: datetime, days: int) -> list[PlannedRun]:
    """Every run due in the next ``days`` days, in send order."""
    schedules = load_schedules(settings.project_dir)
    planned = []
    until = now + timedelta(days=days)
    with state_connection(settings) as conn:
        triggered = [r for r in automation_runs.unfinished_runs(conn) if _not_started_ad_hoc(r)]
        for automation in schedules.automations:
            if not automation.enabled:
                continue
            paused = controls.control(conn, automation.id).paused
            history = [
                r for r in automation_runs.recent_runs(conn, automation.id, HISTORY * 3) if r.audience_size is not None
            ][:HISTORY]
            size = history[0].audience_size if history else None
            excluded = [r.cadence_excluded for r in history if r.cadence_excluded is not None]
            pushes = len(automation.pushes)
            seconds = (size * pushes / settings.fcm_rate_per_minute * 60) if size is not None else None
            ahead: dict[datetime, str | None] = {t: None for t in send_times(automation, now, until)}
            ahead.update(
                (r.send_at, r.id) for r in triggered if r.automation_id == automation.id and r.send_at <= until
            )
            for send_at, run_id in ahead.items():
                planned.append(
                    PlannedRun(
                        automation.id,
                        automation.timezone,
                        timeline(automation, send_at),
                        paused,
                        size,
                        round(mean(excluded)) if excluded else None,
                        round(seconds, 1) if seconds is not None else None,
                        run_id,
                    )
                )
    return sorted(planned, key=lambda p: p.timeline.send_at)
