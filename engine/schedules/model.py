"""Typed, frozen model of schedules.yaml: push templates and the automations that send them.

Templates are delivery's ``PushTemplate`` (one model for a push, wherever it is declared).
An automation's cron gives the SEND time (T-0); every phase is an offset before it
(``engine.automations.timeline`` derives them, once per run).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.errors import SourceLocation
from engine.push.template import PushTemplate
from engine.schedules.cron import CronSchedule

DEFAULT_GENERATE_LEAD = timedelta(minutes=30)   # audience generation before the send (reference 4.2)
DEFAULT_TEST_LEAD = timedelta(minutes=25)       # TEST pushes to the test users before the send
DEFAULT_LATE_GRACE = timedelta(minutes=30)


class MissedPolicy(enum.Enum):
    """A run no scheduler could start on time: recorded as skipped, or sent late within a grace."""

    SKIP = "skip"
    LATE = "late"


@dataclass(frozen=True)
class Automation:
    """Run ``audience`` on ``cron`` (send time, in ``timezone``) and send ``pushes`` (template names)."""

    id: str
    audience: str
    cron: CronSchedule
    timezone: str
    pushes: tuple[str, ...]
    vars: dict[str, Any] = field(default_factory=dict)
    generate_lead: timedelta = DEFAULT_GENERATE_LEAD
    test_lead: timedelta = DEFAULT_TEST_LEAD
    cancellation_window: timedelta | None = None     # None: from the TEST send to T-0
    max_audience_size: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    missed_policy: MissedPolicy = MissedPolicy.SKIP
    missed_grace: timedelta = DEFAULT_LATE_GRACE
    cadence: dict[str, Any] | None = None
    enabled: bool = True
    description: str = ""
    location: SourceLocation | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def window(self) -> timedelta:
        """How long before T-0 cancellation is explicitly offered (at most the TEST lead)."""
        return self.cancellation_window if self.cancellation_window is not None else self.test_lead


@dataclass(frozen=True)
class ScheduleFile:
    """Everything schedules.yaml declares (empty when the project has no such file)."""

    templates: dict[str, PushTemplate] = field(default_factory=dict)
    automations: tuple[Automation, ...] = ()
    source: str = "schedules.yaml"

    def automation(self, automation_id: str) -> Automation | None:
        return next((a for a in self.automations if a.id == automation_id), None)
