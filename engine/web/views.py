"""What the operator page shows, read from the state database (and the scheduler's status when present)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import psycopg

from engine.config import Settings
from engine.errors import EngineError
from engine.experiments import views as impact_views
from engine.experiments.views import ImpactLine
from engine.report.collect import live_outcomes, load_sends, manifest_size
from engine.runs.model import OutputStatus
from engine.state import automation_runs, config_errors, runs
from engine.state.connection import state_connection


@dataclass(frozen=True)
class RunRow:
    run_id: str
    audience: str
    status: str
    as_of: str
    started_at: str
    size: int | None
    files: tuple[str, ...]
    has_report: bool
    automation: str | None = None  # the automation whose run generated it
    outcomes: dict[str, int] | None = None  # Outcome value -> users; None: nothing sent
    badge: str = ""  # the status, or the outcome that needs attention (cancelled, in doubt)


@dataclass(frozen=True)
class AutomationRow:
    id: str
    enabled: bool
    paused: bool
    pause_reason: str | None
    timezone: str
    next_local: str
    next_utc: str
    current_run: str | None
    current_phase: str | None
    changed: tuple[str, ...] = ()  # the run in progress: its frozen definition against the file (one line each)


@dataclass(frozen=True)
class OpenRun:
    """An automation run not finished yet: cancellable until its live send starts."""

    id: str
    automation: str
    kind: str
    status: str
    send_local: str
    send_utc: str
    cancellable: bool


@dataclass(frozen=True)
class OperatorView:
    automations: tuple[AutomationRow, ...]
    open_runs: tuple[OpenRun, ...]
    runs: tuple[RunRow, ...]
    problem: str | None = None
    config_error: str | None = None  # schedules.yaml as the replicas found it (engine.config_errors)
    impact: tuple[ImpactLine, ...] = ()  # each automation's latest run measured with its window closed, per push


def _when(moment: datetime | None, zone: str | None = None) -> str:
    if moment is None:
        return "—"
    return (moment.astimezone(ZoneInfo(zone)) if zone else moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def recent_runs(conn: psycopg.Connection, limit: int = 25) -> list[RunRow]:
    """The last audience runs, newest first, with what their manifests say they wrote; a run whose process died
    reads ``abandoned`` now, not only once the next run starts."""
    runs.abandon_dead_runs(conn)
    out = []
    for run in runs.recent_runs(conn, limit):
        written = (
            tuple(o.file for o in run.manifest.outputs if o.status == OutputStatus.WRITTEN) if run.manifest else ()
        )
        automation_run = automation_runs.for_audience_run(conn, run.id)
        outcomes = (
            automation_run.outcomes if automation_run else live_outcomes([s for _, s in load_sends(conn, run.id)])
        )
        attention = outcomes.attention if outcomes else None
        out.append(
            RunRow(
                run.id,
                run.audience,
                run.status.value,
                run.as_of.isoformat(),
                run.started_at.isoformat(timespec="seconds"),
                manifest_size(run.manifest) if run.manifest else None,
                written,
                bool(run.run_dir and run.manifest),
                automation_run.automation_id if automation_run else None,
                outcomes.as_dict() if outcomes else None,
                attention.label if attention else run.status.value,
            )
        )
    return out


def automations(settings: Settings) -> list[AutomationRow]:
    """Per automation of schedules.yaml: paused, next send (local and UTC), the run in progress and its phase."""
    from engine import api  # noqa: PLC0415  (schedules and the scheduler load on demand)

    return [
        AutomationRow(
            id=a.automation_id,
            enabled=a.enabled,
            paused=a.paused,
            pause_reason=a.pause_reason,
            timezone=a.timezone,
            next_local=_when(a.next_send_local),
            next_utc=_when(a.next_send_at, "UTC"),
            current_run=str(a.in_progress.id) if a.in_progress else None,
            current_phase=a.in_progress.status.value if a.in_progress else None,
            changed=a.changed_since_generate,
        )
        for a in api.scheduler_status(settings).automations
    ]


OPEN_RUNS = 50  # shown on the page


def open_runs(settings: Settings, conn: psycopg.Connection, zones: dict[str, str]) -> list[OpenRun]:
    """Automation runs not finished yet, soonest first; local times in each automation's own time zone."""
    return [
        OpenRun(
            id=run.id,
            automation=run.automation_id,
            kind=run.kind.value,
            status=run.status.value,
            send_local=_when(run.send_at, zones.get(run.automation_id, settings.timezone)),
            send_utc=_when(run.send_at, "UTC"),
            cancellable=run.status.cancellable,
        )
        for run in automation_runs.unfinished_runs(conn, limit=OPEN_RUNS)
    ]


def operator_view(settings: Settings) -> OperatorView:
    """Everything the page shows; a state database or schedules.yaml problem is shown, not raised."""
    problems: list[str] = []
    runs: list[RunRow] = []
    pending: list[OpenRun] = []
    rows: list[AutomationRow] = []
    impact: list[ImpactLine] = []
    broken = None
    try:
        with state_connection(settings, retries=0) as conn:
            runs = recent_runs(conn)
            broken = config_errors.current(conn)
            impact = impact_views.latest(conn)
        rows = automations(settings)
        with state_connection(settings, retries=0) as conn:
            pending = open_runs(settings, conn, {row.id: row.timezone for row in rows})
    except (psycopg.Error, EngineError) as err:
        problems.append(err.message if isinstance(err, EngineError) else f"state database: {type(err).__name__}")
    return OperatorView(
        tuple(rows),
        tuple(pending),
        tuple(runs),
        "; ".join(problems) or None,
        broken.message if broken else None,
        tuple(impact),
    )
