"""The state database's rows as frozen, typed records: what the repositories of ``engine.state`` return.

Rows are built by psycopg's ``class_row``, so a field's name is its column's name; statuses arrive as
text and become their StrEnum in ``__post_init__``, so no reader compares a status by its spelling.
The audience run's ``RunStatus`` lives with the manifest (``engine.runs.model``), which records it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.delivery.model import Outcomes
from engine.runs.model import Manifest, RunStatus


def _set(row: object, **values: Any) -> None:
    """Assign fields of a frozen row while it is being built (its only mutation)."""
    for name, value in values.items():
        object.__setattr__(row, name, value)


@dataclass(frozen=True)
class RunRecord:
    """One row of engine.runs: an audience run as the state database recorded it."""

    id: str
    audience: str
    status: RunStatus
    as_of: datetime
    started_at: datetime
    finished_at: datetime | None = None
    run_dir: str | None = None
    error: str | None = None
    manifest: Manifest | None = None  # None until the run finished (or when it was abandoned)

    def __post_init__(self) -> None:
        data: Any = self.manifest
        _set(self, status=RunStatus(self.status), manifest=Manifest.from_json(data) if isinstance(data, dict) else data)


class AutomationRunStatus(StrEnum):
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
        """Nothing more happens to the run (``sent`` is not: its cleanup follows)."""
        return self in FINAL

    @property
    def cancellable(self) -> bool:
        """Until the live send starts (reference 4.5: cancel must actually stop it)."""
        return self in CANCELLABLE


FINAL = frozenset(
    {
        AutomationRunStatus.CLEANED,
        AutomationRunStatus.CANCELLED,
        AutomationRunStatus.SKIPPED,
        AutomationRunStatus.FAILED,
        AutomationRunStatus.ABANDONED,
        AutomationRunStatus.BLOCKED,
    }
)
CANCELLABLE = frozenset(
    {
        AutomationRunStatus.SCHEDULED,
        AutomationRunStatus.GENERATING,
        AutomationRunStatus.GENERATED,
        AutomationRunStatus.TESTING,
        AutomationRunStatus.TESTED,
        AutomationRunStatus.WINDOW,
    }
)


class RunKind(StrEnum):
    SCHEDULED = "scheduled"
    TRIGGERED = "triggered"
    TRIGGERED_TEST = "triggered_test"  # the live phase goes to the test users only


@dataclass(frozen=True)
class AutomationRun:
    """One row of engine.automation_runs."""

    id: str
    automation_id: str
    send_at: datetime
    kind: RunKind
    status: AutomationRunStatus
    reason: str | None = None
    audience_run_id: str | None = None
    run_dir: str | None = None
    frozen: dict[str, str] = field(default_factory=dict)  # CSV file name -> sha256, as generate froze them
    audience_size: int | None = None
    sent: int | None = None
    failed: int | None = None
    cadence_excluded: int | None = None
    updated_at: datetime | None = None
    in_doubt: int | None = None
    # the phase times planned with the run, fixed from then on (None: a run made before they were kept)
    generate_at: datetime | None = None
    test_at: datetime | None = None
    window_opens_at: datetime | None = None
    live_at: datetime | None = None
    latest_start: datetime | None = None
    definition: dict[str, Any] | None = None  # the automation as generate froze it (engine.schedules.definition)
    definition_hash: str | None = None
    held_out: int | None = None  # users of the live send in a holdout group (issue 26)

    def __post_init__(self) -> None:
        _set(self, kind=RunKind(self.kind), status=AutomationRunStatus(self.status))

    @property
    def outcomes(self) -> Outcomes | None:
        """What became of the run's users; None while nothing has been sent or cancelled."""
        if self.status is AutomationRunStatus.CANCELLED:
            return Outcomes(cancelled=self.audience_size or 0)
        if self.sent is None:
            return None
        return Outcomes(
            sent=self.sent,
            failed=self.failed or 0,
            in_doubt=self.in_doubt or 0,
            skipped_by_cadence=self.cadence_excluded or 0,
            held_out=self.held_out or 0,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "automation": self.automation_id,
            "send_at": self.send_at.isoformat(),
            "kind": self.kind.value,
            "status": self.status.value,
            "reason": self.reason,
            "audience_run_id": self.audience_run_id,
            "run_dir": self.run_dir,
            "audience_size": self.audience_size,
            "outcomes": self.outcomes.as_dict() if self.outcomes else None,
            "definition_hash": self.definition_hash,
        }


@dataclass(frozen=True)
class PhaseEvent:
    """One row of engine.automation_run_phases: a status an automation run entered, when and by whom."""

    status: AutomationRunStatus
    at: datetime
    detail: str | None
    worker: str | None

    def __post_init__(self) -> None:
        _set(self, status=AutomationRunStatus(self.status))


@dataclass(frozen=True)
class Control:
    """One row of engine.automation_controls: the persisted pause switch of an automation."""

    paused: bool
    reason: str | None
    first_seen_at: datetime


@dataclass(frozen=True)
class LastSuccess:
    """When an audience or automation last succeeded (the ``engine_state_last_success`` metric)."""

    kind: str  # "audience" or "automation"
    name: str
    at: datetime


# engine.impact (issue 26): only counts are stored; every rate, interval, p-value and verdict is derived from
# them (engine.experiments.stats), so the CLI, --json, the report, the page and /metrics agree.
ALL_VARIANTS = ""  # the variant of a row that counts the push as a whole (every variant together)


@dataclass(frozen=True)
class ImpactCounts:
    """Treated (sent) and held-out users of one push of one run, and how many of each converted in the window."""

    run_id: str
    automation_id: str
    push: str
    variant: str  # ALL_VARIANTS: the push as a whole
    conversion: str
    within_seconds: int
    send_at: datetime  # when the live send began: the held-out users' attribution time
    window_closed: bool  # False: the window is still open, so the counts can still grow
    treated: int
    treated_converted: int
    held_out: int
    held_out_converted: int
    measured_at: datetime | None = None
