"""pause / resume / cancel / trigger: persisted in the state database, read by every phase.

Nothing here talks to a worker: the phases check the run's status and the pause switch
when they start, so a control survives restarts and works from any machine
(reference section 6 item 22).
"""

from __future__ import annotations

from datetime import datetime, timezone

from engine.automations.model import ControlResult
from engine.automations.timeline import timeline
from engine.config import Settings
from engine.errors import ConfigError, StateError
from engine.schedules.loader import load_schedules
from engine.schedules.model import Automation
from engine.state import automation_runs, controls, queued_jobs
from engine.state.connection import state_connection
from engine.state.model import CANCELLABLE, AutomationRunStatus, RunKind


def known_automation(settings: Settings, automation_id: str) -> Automation:
    """The automation of schedules.yaml, or a usage error naming the known ones."""
    schedules = load_schedules(settings.project_dir)
    automation = schedules.automation(automation_id)
    if automation is None:
        known = ", ".join(a.id for a in schedules.automations) or "none"
        raise ConfigError(f"no automation {automation_id!r} in schedules.yaml", hint=f"known: {known}")
    return automation


def set_paused(settings: Settings, automation_id: str, paused: bool, reason: str | None = None) -> ControlResult:
    known_automation(settings, automation_id)
    with state_connection(settings) as conn:
        was_paused = controls.control(conn, automation_id).paused
        if was_paused != paused:
            controls.set_paused(conn, automation_id, paused, reason)
    action = "pause" if paused else "resume"
    changed = was_paused != paused
    state = "paused: runs are skipped at their next phase" if paused else "resumed: runs fire again"
    return ControlResult(
        action,
        automation_id,
        None,
        changed,
        f"{automation_id} {state}" if changed else f"{automation_id} was already {'paused' if paused else 'running'}",
    )


def cancel(settings: Settings, run_id: str, reason: str | None = None) -> ControlResult:
    """Cancel a run until its live send starts; refused after, with the reason."""
    with state_connection(settings) as conn:
        run = automation_runs.resolve_run(conn, run_id)
        cancelled = automation_runs.transition(
            conn,
            run.id,
            CANCELLABLE,
            AutomationRunStatus.CANCELLED,
            detail=f"cancelled{': ' + reason if reason else ''}",
            worker="engine cancel",
        )
        if cancelled:
            jobs = queued_jobs.cancel_waiting(conn, run.id)
            return ControlResult(
                "cancel",
                run.automation_id,
                run.id,
                True,
                f"run {run.id} ({run.automation_id} at {run.send_at.isoformat()}) cancelled: "
                f"nothing more of it is sent ({jobs} queued job{'' if jobs == 1 else 's'} removed)",
            )
        run = automation_runs.get_run(conn, run.id) or run
        events = automation_runs.phases(conn, run.id)
    if run.status is AutomationRunStatus.CANCELLED:
        return ControlResult("cancel", run.automation_id, run.id, False, f"run {run.id} was already cancelled")
    started = next((e.at for e in reversed(events) if e.status is AutomationRunStatus.SENDING), None)
    raise StateError(
        f"run {run.id} can no longer be cancelled: it is {run.status.value}"
        + (f" (live send started {started.isoformat()})" if started else ""),
        hint="a live send that has started finishes; `engine pause` stops the next runs",
    )


def trigger(settings: Settings, automation_id: str, *, test: bool, at: datetime | None, now: datetime) -> ControlResult:
    """An ad hoc run at ``at`` (default: as soon as generation can start); a running scheduler picks it up."""
    automation = known_automation(settings, automation_id)
    send_at = (at or now + automation.generate_lead).astimezone(timezone.utc).replace(microsecond=0)
    if send_at < now:
        raise ConfigError(f"--at {send_at.isoformat()} is in the past", hint="give a future time, or leave --at out")
    with state_connection(settings) as conn:
        if controls.control(conn, automation_id).paused:
            raise StateError(f"{automation_id} is paused", hint=f"`engine resume {automation_id}` first")
        run = automation_runs.create_run(
            conn,
            automation_id=automation_id,
            send_at=send_at,
            kind=RunKind.TRIGGERED_TEST if test else RunKind.TRIGGERED,
            reason="triggered" + (" (test: live phase to the test users only)" if test else ""),
            worker="engine trigger",
            planned=timeline(automation, send_at).planned(),
        )
    if run is None:
        raise StateError(f"{automation_id} already has a run at {send_at.isoformat()}", hint="pick another --at")
    return ControlResult(
        "trigger",
        automation_id,
        run.id,
        True,
        f"run {run.id} of {automation_id} sends at {send_at.isoformat()}" + (" to the test users only" if test else ""),
        send_at=send_at,
    )
