"""The scheduler's typed records: run statuses, an automation run, and what the control API returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class RunStatus(str, enum.Enum):
    """An automation run's phase; the last group are final outcomes other than ``cleaned``."""

    SCHEDULED = "scheduled"
    GENERATING = "generating"
    GENERATED = "generated"
    TESTING = "testing"
    TESTED = "tested"
    WINDOW = "window"
    SENDING = "sending"
    SENT = "sent"
    CLEANED = "cleaned"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    FAILED = "failed"
    ABANDONED = "abandoned"
    BLOCKED = "blocked"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def cancellable(self) -> bool:
        """Until the live send starts (reference 4.5: cancel must actually stop it)."""
        return self in CANCELLABLE


FINAL = frozenset({RunStatus.CLEANED, RunStatus.CANCELLED, RunStatus.SKIPPED, RunStatus.FAILED,
                   RunStatus.ABANDONED, RunStatus.BLOCKED})
CANCELLABLE = frozenset({RunStatus.SCHEDULED, RunStatus.GENERATING, RunStatus.GENERATED, RunStatus.TESTING,
                         RunStatus.TESTED, RunStatus.WINDOW})


class RunKind(str, enum.Enum):
    SCHEDULED = "scheduled"
    TRIGGERED = "triggered"
    TRIGGERED_TEST = "triggered_test"      # the live phase goes to the test users only


@dataclass(frozen=True)
class AutomationRun:
    """One row of engine.automation_runs."""

    id: str
    automation_id: str
    send_at: datetime
    kind: RunKind
    status: RunStatus
    reason: str | None = None
    audience_run_id: str | None = None
    run_dir: str | None = None
    frozen: dict[str, str] = field(default_factory=dict)     # CSV file name -> sha256, as generate froze them
    audience_size: int | None = None
    sent: int | None = None
    failed: int | None = None
    cadence_excluded: int | None = None
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "automation": self.automation_id, "send_at": self.send_at.isoformat(),
                "kind": self.kind.value, "status": self.status.value, "reason": self.reason,
                "audience_run_id": self.audience_run_id, "run_dir": self.run_dir,
                "audience_size": self.audience_size, "sent": self.sent, "failed": self.failed,
                "cadence_excluded": self.cadence_excluded}


@dataclass(frozen=True)
class PhaseEvent:
    status: RunStatus
    at: datetime
    detail: str | None
    worker: str | None


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
    next_send_at: datetime | None          # UTC
    next_send_local: datetime | None
    in_progress: AutomationRun | None
    recent: tuple[AutomationRun, ...]


@dataclass(frozen=True)
class SchedulerStatus:
    automations: tuple[AutomationStatus, ...]
    now: datetime
