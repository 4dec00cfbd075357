"""Cron expressions of schedules.yaml, read by cronsim (Debian cron semantics, DST-aware).

cronsim does the parsing and the iteration; this module adds what it does not say: which
field is wrong and where it starts, so ``engine validate`` can put its caret under it.
On DST days cronsim behaves like Debian's cron: a time in the skipped hour fires right
after the jump (02:30 -> 03:00), a time in the repeated hour fires once (the first one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from cronsim import CronSim, CronSimError

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NAMES = {3: "or jan-dec", 4: "or sun-sat"}


class CronError(ValueError):
    """An invalid cron expression; ``offset`` is the 0-based index of the mistake in it."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class CronSchedule:
    """A checked 5-field expression; times are computed by cronsim in the caller's zone."""

    expression: str
    fields: str  # the five fields (a macro expanded)

    def after(self, start: datetime) -> Iterator[datetime]:
        """Fire times strictly after ``start`` (aware), in ``start``'s time zone, in order."""
        # cronsim yields times >= start rounded up to the minute; skip an exact match of start itself
        on_the_minute = start.second == 0 and start.microsecond == 0
        yield from CronSim(self.fields, start + timedelta(seconds=1) if on_the_minute else start)

    def matches(self, moment: datetime) -> bool:
        """Whether the cron fires at ``moment``'s minute (in ``moment``'s own time zone)."""
        floor = moment.replace(second=0, microsecond=0)
        return next(iter(CronSim(self.fields, floor - timedelta(seconds=1)))) == floor


def _field_problem(index: int, text: str, offset: int) -> CronError | None:
    probe = ["*"] * 5
    probe[index] = text
    try:
        CronSim(" ".join(probe), datetime(2000, 1, 1))
        return None
    except (CronSimError, ValueError):
        name, low, high = FIELDS[index]
        extra = f" {_NAMES[index]}" if index in _NAMES else ""
        return CronError(
            f"{name} field: {text!r} is not valid (use {low}-{high}{extra}, *, a-b, */n, a-b/n, lists)", offset
        )


def parse_cron(expression: str) -> CronSchedule:
    """Check a 5-field cron expression (or an ``@daily``-style macro); raise CronError where it is wrong."""
    stripped = expression.strip()
    if stripped.startswith("@"):
        if stripped.lower() not in MACROS:
            raise CronError(
                f"unknown cron macro {stripped!r} (known: {', '.join(MACROS)})",
                len(expression) - len(expression.lstrip()),
            )
        return CronSchedule(expression, MACROS[stripped.lower()])
    parts = [(m.group(0), m.start()) for m in re.finditer(r"\S+", expression)]
    if len(parts) != 5:
        raise CronError(
            f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has {len(parts)}",
            parts[5][1] if len(parts) > 5 else 0,
        )
    for index, (text, offset) in enumerate(parts):
        problem = _field_problem(index, text, offset)
        if problem:
            raise problem
    return CronSchedule(expression, " ".join(text for text, _ in parts))
