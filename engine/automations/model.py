"""What the control API and ``engine status`` return (an automation run's own row is ``engine.state.model``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engine.state.model import AutomationRun


@dataclass(frozen=True)
class ControlResult:
    """What pause/resume/cancel/trigger did, for the CLI and the operator page."""

    action: str
    automation_id: str
    run_id: str | None
    changed: bool
    message: str
    send_at: datetime | None = None


@dataclass(frozen=True)
class AutomationStatus:
    """``engine status`` for one automation."""

    automation_id: str
    enabled: bool
    paused: bool
    pause_reason: str | None
    timezone: str
    next_send_at: datetime | None  # UTC
    next_send_local: datetime | None
    in_progress: AutomationRun | None
    recent: tuple[AutomationRun, ...]
    triggered: tuple[AutomationRun, ...] = ()  # ad hoc runs not started yet (seen before their generate phase)
    changed_since_generate: tuple[str, ...] = ()  # the in-progress run's frozen definition vs the file


@dataclass(frozen=True)
class SchedulerStatus:
    automations: tuple[AutomationStatus, ...]
    now: datetime
