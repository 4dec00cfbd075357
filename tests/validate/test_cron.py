"""The cron parser of schedules.yaml: values, ranges, steps, names, and where a mistake is."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engine.schedules.cron import CronError, parse_cron

CHICAGO = ZoneInfo("America/Chicago")


def test_daily_send_time() -> None:
    cron = parse_cron("30 12 * * *")
    assert cron.matches(datetime(2025, 8, 12, 12, 30, tzinfo=CHICAGO))
    assert not cron.matches(datetime(2025, 8, 12, 12, 31, tzinfo=CHICAGO))
    assert not cron.matches(datetime(2025, 8, 12, 13, 30, tzinfo=CHICAGO))


def test_ranges_steps_lists_and_names() -> None:
    cron = parse_cron("*/15 9-17/4 1,15 jan-mar mon-fri")
    assert cron.minutes == {0, 15, 30, 45}
    assert cron.hours == {9, 13, 17}
    assert cron.days == {1, 15}
    assert cron.months == {1, 2, 3}
    assert cron.weekdays == {1, 2, 3, 4, 5}


def test_sunday_is_0_or_7_and_day_fields_combine_like_cron() -> None:
    cron = parse_cron("0 8 13 * 7")
    assert cron.weekdays == {0}
    # both day fields restricted: either matches (2025-06-13 is a Friday, 2025-06-15 a Sunday)
    assert cron.matches(datetime(2025, 6, 13, 8, 0))
    assert cron.matches(datetime(2025, 6, 15, 8, 0))
    assert not cron.matches(datetime(2025, 6, 14, 8, 0))


def test_macros() -> None:
    assert parse_cron("@daily").hours == {0} and parse_cron("@daily").minutes == {0}


@pytest.mark.parametrize("expression, message, offset", [
    ("61 * * * *", "minute field: 61 is out of range 0-59", 0),
    ("30 24 * * *", "hour field: 24 is out of range 0-23", 3),
    ("0 0 0 * *", "day of month field: 0 is out of range 1-31", 4),
    ("0 0 * 1-13 *", "month field: 13 is out of range 1-12", 8),
    ("0 0 * * fri-mon", "day of week field: range 'fri-mon' runs backwards", 8),
    ("*/0 * * * *", "minute field: step '0' must be a positive whole number", 2),
    ("0 12 * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 4", 0),
    ("0 12 * * * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 6",
     11),
    ("0 noon * * *", "hour field: 'noon' is not a number", 2),
    ("0 1,,2 * * *", "hour field: '' is not valid cron syntax (use *, n, a-b, */n, a-b/n, lists)", 4),
])
def test_errors_say_what_and_where(expression: str, message: str, offset: int) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert caught.value.message == message
    assert caught.value.offset == offset
