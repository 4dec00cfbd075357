"""Typed, frozen model of schedules.yaml: push templates and the automations that send them.

Templates are delivery's ``PushTemplate`` (one model for a push, wherever it is declared).
An automation's cron gives the SEND time (T-0); every phase is an offset before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from engine.errors import SourceLocation
from engine.push.template import PushTemplate
from engine.schedules.cron import CronSchedule

DEFAULT_GENERATE_LEAD = 30     # minutes before the send: audience generation (reference 4.2)
DEFAULT_TEST_LEAD = 25         # minutes before the send: TEST pushes to the test users
DEFAULT_CANCELLATION_WINDOW = 25


@dataclass(frozen=True)
class Automation:
    """Run ``audience`` on ``cron`` (send time, in ``timezone``) and send ``pushes`` (template names)."""

    id: str
    audience: str
    cron: CronSchedule
    timezone: str
    pushes: tuple[str, ...]
    vars: dict[str, Any] = field(default_factory=dict)
    generate_lead_minutes: int = DEFAULT_GENERATE_LEAD
    test_lead_minutes: int = DEFAULT_TEST_LEAD
    cancellation_window_minutes: int = DEFAULT_CANCELLATION_WINDOW
    cadence: dict[str, Any] | None = None
    enabled: bool = True
    description: str = ""
    location: SourceLocation | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class ScheduleFile:
    """Everything schedules.yaml declares (empty when the project has no such file)."""

    templates: dict[str, PushTemplate] = field(default_factory=dict)
    automations: tuple[Automation, ...] = ()
    source: str = "schedules.yaml"

    def automation(self, automation_id: str) -> Automation | None:
        return next((a for a in self.automations if a.id == automation_id), None)
