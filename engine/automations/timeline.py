"""Send times and phase times of an automation, derived once from T (pure; no clock inside).

T comes from the cron read in the automation's IANA zone (cronsim: a time skipped by a DST
jump fires right after it, a repeated time fires once). Every phase is an absolute offset
from T in UTC, never from "when the run started" (reference section 6 items 3 and 4).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from engine.schedules.model import Automation, MissedPolicy
from engine.state.model import AutomationRun, AutomationRunStatus

ON_TIME = timedelta(minutes=1)  # skip policy: how late a phase may start and still count as on time
# The live job is queued this long before T: procrastinate polls for due jobs once a second (it is not woken
# when a scheduled job becomes due) and the send session takes its setup time; the job opens the session,
# waits for T, checks the run was not cancelled or paused meanwhile, and sends (cancellable until T).
LIVE_EARLY = timedelta(seconds=3)


@dataclass(frozen=True)
class Timeline:
    """Phase times of one run, all UTC."""

    send_at: datetime  # T-0: the live send
    generate_at: datetime
    test_at: datetime
    window_opens_at: datetime  # cancellation explicitly offered from here until T-0
    latest_start: datetime  # no phase starts after this (missed-run policy)

    def planned(self) -> dict[str, datetime]:
        """The times the run keeps from planning on (engine.state.automation_runs.PLANNED)."""
        return {
            "generate_at": self.generate_at,
            "test_at": self.test_at,
            "window_opens_at": self.window_opens_at,
            "live_at": self.send_at,
            "latest_start": self.latest_start,
        }

    def as_dict(self) -> dict[str, str]:
        return {
            name: getattr(self, name).isoformat()
            for name in ("generate_at", "test_at", "window_opens_at", "send_at", "latest_start")
        }


class Phase(str, enum.Enum):
    """The phase jobs of a run."""

    GENERATE = "generate"
    TEST = "test"
    LIVE = "live"
    CLEANUP = "cleanup"


# status -> the phase that moves it on
PHASE_OF = {
    AutomationRunStatus.SCHEDULED: Phase.GENERATE,
    AutomationRunStatus.GENERATING: Phase.GENERATE,
    AutomationRunStatus.GENERATED: Phase.TEST,
    AutomationRunStatus.TESTING: Phase.TEST,
    AutomationRunStatus.TESTED: Phase.LIVE,
    AutomationRunStatus.WINDOW: Phase.LIVE,
    AutomationRunStatus.SENDING: Phase.LIVE,
    AutomationRunStatus.SENT: Phase.CLEANUP,
}


def due_at(phase: Phase, line: Timeline, now: datetime) -> datetime:
    """When ``phase``'s job may start (live: ``LIVE_EARLY`` before T, to be set up at T; cleanup: at once)."""
    return {
        Phase.GENERATE: line.generate_at,
        Phase.TEST: line.test_at,
        Phase.LIVE: line.send_at - LIVE_EARLY,
        Phase.CLEANUP: now,
    }[phase]


def timeline(automation: Automation, send_at: datetime) -> Timeline:
    """The phase times of ``automation``'s run at ``send_at``."""
    send_at = send_at.astimezone(timezone.utc)
    allowance = automation.missed_grace if automation.missed_policy is MissedPolicy.LATE else ON_TIME
    return Timeline(
        send_at=send_at,
        generate_at=send_at - automation.generate_lead,
        test_at=send_at - automation.test_lead,
        window_opens_at=send_at - automation.window,
        latest_start=send_at + allowance,
    )


def run_timeline(run: AutomationRun, automation: Automation | None) -> Timeline | None:
    """The phase times fixed when the run was planned; a run made before they were kept: from
    ``automation`` as the file stands (None when it is gone too)."""
    if (
        run.generate_at is None
        or run.test_at is None
        or run.window_opens_at is None
        or run.live_at is None
        or run.latest_start is None
    ):
        return timeline(automation, run.send_at) if automation else None
    return Timeline(
        send_at=run.live_at,
        generate_at=run.generate_at,
        test_at=run.test_at,
        window_opens_at=run.window_opens_at,
        latest_start=run.latest_start,
    )


def measure_at(send_at: datetime, windows: Iterable[timedelta]) -> datetime | None:
    """When a run's impact can be measured: its send time T plus the longest conversion window of its frozen
    definition (None: it declares no conversion, nothing to measure)."""
    longest = max(windows, default=None)
    return None if longest is None else send_at + longest


def moved_late(automation: Automation, send_at: datetime, now: datetime) -> Timeline | None:
    """Missed policy ``late``: the run's whole timeline moved to start ``now``, its window kept in full;
    None when its live send would then fall after T + grace (never compressed into a burst)."""
    line = timeline(automation, send_at)
    shift = now - line.generate_at
    moved = Timeline(
        send_at=line.send_at + shift,
        generate_at=now,
        test_at=line.test_at + shift,
        window_opens_at=line.window_opens_at + shift,
        latest_start=line.send_at + shift + ON_TIME,
    )
    late_enough = automation.missed_policy is MissedPolicy.LATE and moved.send_at <= line.latest_start
    return moved if late_enough else None


def _in_dates(automation: Automation, moment: datetime) -> bool:
    day = moment.astimezone(automation.zone).date()
    return (automation.start_date is None or day >= automation.start_date) and (
        automation.end_date is None or day <= automation.end_date
    )


def send_times(automation: Automation, after: datetime, until: datetime) -> Iterator[datetime]:
    """Every T (UTC) with ``after < T <= until`` that the cron and the start/end dates allow."""
    for moment in automation.cron.after(after.astimezone(automation.zone)):
        if moment > until:
            return
        if _in_dates(automation, moment):
            yield moment.astimezone(timezone.utc)


def next_send(automation: Automation, after: datetime, *, horizon: timedelta = timedelta(days=400)) -> datetime | None:
    """The first T after ``after`` (None when the end date has passed)."""
    return next(send_times(automation, after, after + horizon), None)
