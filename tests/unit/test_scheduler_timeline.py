"""Phase times from T, in the automation's zone, on ordinary and DST days (values worked out by hand)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from engine.automations.timeline import next_send, send_times, timeline
from engine.schedules.cron import parse_cron
from engine.schedules.model import Automation, MissedPolicy

UTC = timezone.utc


def automation(cron: str, zone: str, **extra: object) -> Automation:
    return Automation(id="a", audience="x", cron=parse_cron(cron), timezone=zone, pushes=("p",), **extra)  # type: ignore[arg-type]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_phase_offsets_are_taken_from_t() -> None:
    # 12:30 in Chicago in August is CDT (UTC-5): T = 17:30 UTC; generate 30 min, TEST 25 min before it
    daily = automation("30 12 * * *", "America/Chicago")
    [send_at] = list(send_times(daily, utc(2025, 8, 12, 0, 0), utc(2025, 8, 13, 0, 0)))
    line = timeline(daily, send_at)
    assert (line.generate_at, line.test_at, line.window_opens_at, line.send_at, line.latest_start) == (
        utc(2025, 8, 12, 17, 0),
        utc(2025, 8, 12, 17, 5),
        utc(2025, 8, 12, 17, 5),
        utc(2025, 8, 12, 17, 30),
        utc(2025, 8, 12, 17, 31),
    )
    # the same cron in January is CST (UTC-6): an hour later in UTC
    assert next_send(daily, utc(2026, 1, 10, 0, 0)) == utc(2026, 1, 10, 18, 30)


def test_compressed_leads_and_late_policy() -> None:
    fast = automation(
        "0 9 * * *",
        "UTC",
        generate_lead=timedelta(seconds=6),
        test_lead=timedelta(seconds=4),
        cancellation_window=timedelta(seconds=3),
        missed_policy=MissedPolicy.LATE,
        missed_grace=timedelta(minutes=10),
    )
    line = timeline(fast, utc(2026, 1, 1, 9, 0))
    assert line.generate_at == utc(2026, 1, 1, 8, 59, 54) and line.test_at == utc(2026, 1, 1, 8, 59, 56)
    assert line.window_opens_at == utc(2026, 1, 1, 8, 59, 57) and line.latest_start == utc(2026, 1, 1, 9, 10)


@pytest.mark.parametrize(
    "zone, cron, day, expected",
    [
        # Chicago springs forward 2026-03-08 02:00 CST -> 03:00 CDT: 02:30 does not exist, the run fires
        # at 03:00 CDT = 08:00 UTC (once, not skipped); 01:30 is still CST = 07:30 UTC
        ("America/Chicago", "30 2 * * *", date(2026, 3, 8), [utc(2026, 3, 8, 8, 0)]),
        ("America/Chicago", "30 1 * * *", date(2026, 3, 8), [utc(2026, 3, 8, 7, 30)]),
        # Chicago falls back 2026-11-01 02:00 CDT -> 01:00 CST: 01:30 happens twice, the run fires once,
        # at the first one (CDT, UTC-5) = 06:30 UTC
        ("America/Chicago", "30 1 * * *", date(2026, 11, 1), [utc(2026, 11, 1, 6, 30)]),
        # London springs forward 2026-03-29 01:00 GMT -> 02:00 BST: 01:30 runs at 02:00 BST = 01:00 UTC
        ("Europe/London", "30 1 * * *", date(2026, 3, 29), [utc(2026, 3, 29, 1, 0)]),
        # London falls back 2026-10-25 02:00 BST -> 01:00 GMT: 01:30 once, the BST one = 00:30 UTC
        ("Europe/London", "30 1 * * *", date(2026, 10, 25), [utc(2026, 10, 25, 0, 30)]),
        # an ordinary time on the fall-back day: 12:30 GMT = 12:30 UTC
        ("Europe/London", "30 12 * * *", date(2026, 10, 25), [utc(2026, 10, 25, 12, 30)]),
    ],
)
def test_dst_days_neither_skip_nor_double(zone: str, cron: str, day: date, expected: list[datetime]) -> None:
    auto = automation(cron, zone)
    start = datetime.combine(day, datetime.min.time(), tzinfo=auto.zone)
    assert list(send_times(auto, start, start + timedelta(days=1) - timedelta(seconds=1))) == expected


def test_phase_times_across_a_dst_jump_are_absolute() -> None:
    # T = 03:00 CDT on 2026-03-08 (08:00 UTC); 30 min before it is 07:30 UTC = 01:30 CST, before the jump
    line = timeline(automation("0 3 * * *", "America/Chicago"), utc(2026, 3, 8, 8, 0))
    assert line.generate_at == utc(2026, 3, 8, 7, 30)
    assert line.generate_at.astimezone(automation("0 3 * * *", "America/Chicago").zone).hour == 1


def test_start_and_end_dates_in_the_local_zone() -> None:
    # 23:30 Chicago on 2026-01-01 is 05:30 UTC on 2026-01-02: the local date decides
    auto = automation("30 23 * * *", "America/Chicago", start_date=date(2026, 1, 1), end_date=date(2026, 1, 2))
    assert list(send_times(auto, utc(2025, 12, 30, 0, 0), utc(2026, 1, 10, 0, 0))) == [
        utc(2026, 1, 2, 5, 30),
        utc(2026, 1, 3, 5, 30),
    ]
    assert next_send(auto, utc(2026, 1, 4, 0, 0)) is None
