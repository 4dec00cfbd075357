"""Durations written with units in schedules.yaml (``30m``, ``45s``, ``1h30m``)."""

from __future__ import annotations

import re
from datetime import timedelta

PATTERN = r"^(?=\d)(\d+h)?(\d+m)?(\d+s)?$"
_PARTS = re.compile(PATTERN)


def parse_duration(text: str) -> timedelta:
    """``1h30m`` -> 90 minutes; the schema has already checked the pattern."""
    match = _PARTS.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration (write e.g. 30m, 45s, 1h30m)")
    hours, minutes, seconds = (int(g[:-1]) if g else 0 for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest unit spelling of ``value`` (``25m``, ``45s``, ``1h30m``)."""
    total = int(value.total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") + (f"{seconds}s" if seconds else "")
    return text or "0s"
