"""Typed, frozen model of schedules.yaml: push templates and the automations that send them.

Templates are delivery's ``PushTemplate`` (one model for a push, wherever it is declared).
An automation's cron gives the SEND time (T-0); every phase is an offset before it
(``engine.automations.timeline`` derives them, once per run).
"""

from __future__ import annotations

import enum
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, PlainValidator
from pydantic.dataclasses import dataclass
from pydantic.json_schema import SkipJsonSchema

from engine.errors import SourceLocation
from engine.push.arms import GLOBAL_SALT, HoldoutGroup, HoldoutScope
from engine.push.template import PushTemplate
from engine.schedules.cron import CronSchedule, parse_cron
from engine.schedules.durations import PATTERN, parse_duration
from engine.schemagen import CONFIG, Identifier, Maybe, in_block

DEFAULT_GENERATE_LEAD = timedelta(minutes=30)  # audience generation before the send (reference 4.2)
DEFAULT_TEST_LEAD = timedelta(minutes=25)  # TEST pushes to the test users before the send
DEFAULT_LATE_GRACE = timedelta(minutes=30)


def _parsed(parse: Any, kind: type) -> Any:
    """Validation of a value the file writes as text (checked by the schema and the loader first)."""
    return lambda value: value if value is None or isinstance(value, kind) else parse(value)


Duration = Annotated[
    timedelta,
    PlainValidator(
        _parsed(parse_duration, timedelta),
        json_schema_input_type=Annotated[
            str, Field(pattern=PATTERN, description="a duration with units: 30m, 45s, 1h30m")
        ],
    ),
]
Day = Annotated[
    date,
    PlainValidator(
        _parsed(date.fromisoformat, date), json_schema_input_type=Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    ),
]
Cron = Annotated[CronSchedule, PlainValidator(_parsed(parse_cron, CronSchedule), json_schema_input_type=str)]


@dataclass(frozen=True, config=CONFIG, kw_only=True)
class Holdout:
    """Users never sent this automation's live pushes, measured against the treated ones (``engine impact``)."""

    percent: Annotated[float, Field(gt=0, lt=100, description="share of all users held out, by a hash of the id")]
    salt: Maybe[Annotated[str, Field(min_length=1)]] = Field(
        None, description="what the hash is salted with (default: the automation id; global: one project-wide salt)"
    )
    scope: HoldoutScope = Field(
        HoldoutScope.AUTOMATION,
        description="automation: this automation's control group; global: a standing group no automation pushes",
    )

    def group(self, automation_id: str) -> HoldoutGroup:
        default = GLOBAL_SALT if self.scope is HoldoutScope.GLOBAL else automation_id
        return HoldoutGroup(scope=self.scope, percent=self.percent, salt=self.salt or default)


@dataclass(frozen=True, config=CONFIG, kw_only=True)
class Conversion:
    """What counts as converting after a push: ``sql/conversions/<name>.sql`` within ``within`` of the push."""

    name: Identifier = Field(description="the conversion's SQL file: sql/conversions/<name>.sql")
    within: Duration = Field(description="how long after the push a conversion counts (e.g. 24h)")


class MissedPolicy(enum.Enum):
    """A run no scheduler could start on time: recorded as skipped, or sent late within a grace."""

    SKIP = "skip"
    LATE = "late"


@dataclass(frozen=True, config=CONFIG, kw_only=True)
class Automation:
    """Run ``audience`` on ``cron`` (send time, in ``timezone``) and send ``pushes`` (template names)."""

    id: Identifier
    audience: Identifier
    cron: Cron = in_block("schedule", "cron", description="5-field cron giving the SEND time (T-0)")
    timezone: str = in_block("schedule", "timezone", description="IANA time zone the cron is read in")
    pushes: Annotated[tuple[Identifier, ...], Field(json_schema_extra={"minItems": 1})]
    vars: dict[Identifier, Any] = Field(default_factory=dict)
    generate_lead: Duration = in_block("lead", "generate", default=DEFAULT_GENERATE_LEAD)
    test_lead: Duration = in_block("lead", "test", default=DEFAULT_TEST_LEAD)
    cancellation_window: Maybe[Duration] = Field(
        None,
        description=(  # None: from the TEST send to T-0
            "the last stretch before T-0 in which `engine cancel` stops the live send "
            "(default: from the TEST send to T-0)"
        ),
    )
    max_audience_size: Maybe[Annotated[int, Field(ge=0)]] = Field(
        None, description="more live recipients than this blocks the live send (status blocked)"
    )
    start_date: Maybe[Day] = Field(None, description="first day (in the automation's time zone) a send may fire")
    end_date: Maybe[Day] = Field(None, description="last day (in the automation's time zone) a send may fire")
    missed_policy: MissedPolicy = in_block("missed", "policy", default=MissedPolicy.SKIP)
    missed_grace: Duration = in_block(
        "missed", "grace", default=DEFAULT_LATE_GRACE, description="late: how long after T-0 a run may still send"
    )
    cadence: Maybe[dict[str, Any]] = Field(None, description="per-automation cadence overrides (see cadence.yaml)")
    holdout: Maybe[Holdout] = None
    conversions: tuple[Conversion, ...] = ()
    enabled: bool = True
    description: str = ""
    location: SkipJsonSchema[SourceLocation | None] = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def window(self) -> timedelta:
        """How long before T-0 cancellation is explicitly offered (at most the TEST lead)."""
        return self.cancellation_window if self.cancellation_window is not None else self.test_lead


def _named(templates: Any) -> Any:
    """``templates: {name: {...}}``: each template carries its name."""
    if not isinstance(templates, dict):
        return templates
    return {name: {**entry, "name": name} if isinstance(entry, dict) else entry for name, entry in templates.items()}


@dataclass(frozen=True, config=CONFIG, kw_only=True)
class ScheduleFile:
    """Everything schedules.yaml declares (empty when the project has no such file)."""

    version: Maybe[Literal[1]] = None
    templates: Annotated[
        dict[str, PushTemplate], BeforeValidator(_named, json_schema_input_type=dict[Identifier, PushTemplate])
    ] = Field(default_factory=dict)
    automations: tuple[Automation, ...] = ()
    source: SkipJsonSchema[str] = "schedules.yaml"

    def automation(self, automation_id: str) -> Automation | None:
        return next((a for a in self.automations if a.id == automation_id), None)

    @property
    def global_holdout(self) -> HoldoutGroup | None:
        """The standing control group (``scope: global`` on any automation; the loader checks they agree)."""
        return next(
            (
                a.holdout.group(a.id)
                for a in self.automations
                if a.holdout is not None and a.holdout.scope is HoldoutScope.GLOBAL
            ),
            None,
        )

    def holdouts(self, automation: Automation) -> tuple[HoldoutGroup, ...]:
        """Every group held out of ``automation``'s live sends: the global one first, then its own."""
        groups = [self.global_holdout]
        if automation.holdout is not None and automation.holdout.scope is HoldoutScope.AUTOMATION:
            groups.append(automation.holdout.group(automation.id))
        return tuple(group for group in groups if group is not None)
