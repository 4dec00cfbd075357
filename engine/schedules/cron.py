"""Five-field cron expressions (minute hour day-of-month month day-of-week), parsed and checked.

Small on purpose: the schedules only need standard Vixie cron syntax (``*``, ``a``, ``a-b``,
``*/n``, ``a-b/n``, lists, month and weekday names, ``@daily``-style macros). A bad field
raises ``CronError`` carrying the character offset of the mistake, so ``engine validate``
can put its caret under it. ``CronSchedule.matches`` lets the scheduler test a minute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_NAMES = {
    3: {m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun",
                                    "jul", "aug", "sep", "oct", "nov", "dec"], start=1)},
    4: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_ITEM = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[^/]*))?$")


class CronError(ValueError):
    """An invalid cron expression; ``offset`` is the 0-based index of the mistake in it."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class CronSchedule:
    """The allowed values of each field; day-of-week 7 is folded into 0 (Sunday)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_restricted: bool
    weekdays_restricted: bool

    def matches(self, moment: datetime) -> bool:
        """Whether the cron fires at ``moment``'s minute (in ``moment``'s own time zone)."""
        if moment.minute not in self.minutes or moment.hour not in self.hours or moment.month not in self.months:
            return False
        day_ok = moment.day in self.days
        weekday_ok = (moment.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok        # cron's rule: either restricted day field may match
        return day_ok and weekday_ok


def _value(text: str, index: int, offset: int) -> int:
    name, low, high = FIELDS[index]
    if text.isdigit():
        number = int(text)
    elif text.lower() in _NAMES.get(index, {}):
        number = _NAMES[index][text.lower()]
    else:
        raise CronError(f"{name} field: {text!r} is not a number", offset)
    if not low <= number <= high:
        raise CronError(f"{name} field: {number} is out of range {low}-{high}", offset)
    return number


def _field(text: str, index: int, offset: int) -> frozenset[int]:
    name, low, high = FIELDS[index]
    values: set[int] = set()
    position = offset
    for item in text.split(","):
        match = _ITEM.match(item)
        if not item or not match:
            raise CronError(f"{name} field: {item!r} is not valid cron syntax (use *, n, a-b, */n, a-b/n, lists)",
                            position)
        part = match.group("range")
        if part == "*":
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-")
            start = _value(first, index, position)
            end = _value(last, index, position + len(first) + 1)
            if start > end:
                raise CronError(f"{name} field: range {part!r} runs backwards", position)
        else:
            start = _value(part, index, position)
            end = high if match.group("step") is not None else start
        step = 1
        if match.group("step") is not None:
            step_text = match.group("step")
            step_at = position + len(part) + 1
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name} field: step {step_text!r} must be a positive whole number", step_at)
            step = int(step_text)
        values.update(range(start, end + 1, step))
        position += len(item) + 1
    if index == 4 and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


def parse_cron(expression: str) -> CronSchedule:
    """Parse a 5-field cron expression (or an ``@daily``-style macro); raise CronError when invalid."""
    text = MACROS.get(expression.strip().lower(), expression)
    if text.strip().startswith("@"):
        raise CronError(f"unknown cron macro {text.strip()!r} (known: {', '.join(MACROS)})",
                        len(text) - len(text.lstrip()))
    parts = [(m.group(0), m.start()) for m in re.finditer(r"\S+", text)]
    if len(parts) != 5:
        raise CronError(f"a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
                        f"this one has {len(parts)}", parts[5][1] if len(parts) > 5 else 0)
    sets = [_field(part, i, offset if text is expression else 0) for i, (part, offset) in enumerate(parts)]
    minutes, hours, days, months, weekdays = sets
    return CronSchedule(expression, minutes, hours, days, months, weekdays,
                        days_restricted=not parts[2][0].startswith("*"),
                        weekdays_restricted=not parts[4][0].startswith("*"))
