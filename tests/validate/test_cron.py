"""Cron expressions of schedules.yaml (cronsim underneath): firing times, and where a mistake is."""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from engine.schedules.cron import CronError, parse_cron

CHICAGO = ZoneInfo("America/Chicago")


def test_daily_send_time() -> None:
    cron = parse_cron("30 12 * * *")
    assert cron.matches(datetime(2025, 8, 12, 12, 30, tzinfo=CHICAGO))
    assert not cron.matches(datetime(2025, 8, 12, 12, 31, tzinfo=CHICAGO))
    assert not cron.matches(datetime(2025, 8, 12, 13, 30, tzinfo=CHICAGO))
    # strictly after: a start on a fire time yields the next day's
    assert next(cron.after(datetime(2025, 8, 12, 12, 30, tzinfo=CHICAGO))) == datetime(
        2025, 8, 13, 12, 30, tzinfo=CHICAGO
    )


def test_ranges_steps_lists_and_names() -> None:
    cron = parse_cron("*/15 9-17/4 1,15 jan-mar mon-fri")
    # 2026-01-01 is a Thursday: the day fields combine with OR (day 1 or 15, or a weekday)
    times = list(islice(cron.after(datetime(2026, 1, 1, 0, 0, tzinfo=CHICAGO)), 13))
    assert [(t.hour, t.minute) for t in times[:5]] == [(9, 0), (9, 15), (9, 30), (9, 45), (13, 0)]
    assert {t.hour for t in times} == {9, 13, 17}


def test_sunday_is_0_or_7_and_day_fields_combine_like_cron() -> None:
    cron = parse_cron("0 8 13 * 7")
    # both day fields restricted: either matches (2025-06-13 is a Friday, 2025-06-15 a Sunday)
    assert cron.matches(datetime(2025, 6, 13, 8, 0))
    assert cron.matches(datetime(2025, 6, 15, 8, 0))
    assert not cron.matches(datetime(2025, 6, 14, 8, 0))


def test_macros() -> None:
    assert parse_cron("@daily").fields == "0 0 * * *"


@pytest.mark.parametrize(
    "expression, message, offset",
    [
        ("61 * * * *", "minute field: '61' is not valid (use 0-59, *, a-b, */n, a-b/n, lists)", 0),
        ("30 24 * * *", "hour field: '24' is not valid (use 0-23, *, a-b, */n, a-b/n, lists)", 3),
        ("0 0 0 * *", "day of month field: '0' is not valid (use 1-31, *, a-b, */n, a-b/n, lists)", 4),
        ("0 0 * 1-13 *", "month field: '1-13' is not valid (use 1-12 or jan-dec, *, a-b, */n, a-b/n, lists)", 6),
        (
            "0 0 * * fri-mon",
            "day of week field: 'fri-mon' is not valid (use 0-7 or sun-sat, *, a-b, */n, a-b/n, lists)",
            8,
        ),
        ("*/0 * * * *", "minute field: '*/0' is not valid (use 0-59, *, a-b, */n, a-b/n, lists)", 0),
        ("0 12 * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 4", 0),
        (
            "0 12 * * * *",
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has 6",
            11,
        ),
        ("0 noon * * *", "hour field: 'noon' is not valid (use 0-23, *, a-b, */n, a-b/n, lists)", 2),
        ("0 1,,2 * * *", "hour field: '1,,2' is not valid (use 0-23, *, a-b, */n, a-b/n, lists)", 2),
        (
            "@fortnightly",
            "unknown cron macro '@fortnightly' (known: @yearly, @annually, @monthly, @weekly, @daily, "
            "@midnight, @hourly)",
            0,
        ),
    ],
)
def test_errors_say_what_and_where(expression: str, message: str, offset: int) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert caught.value.message == message
    assert caught.value.offset == offset
