"""Time helpers: parsing ``--as-of`` and formatting timestamps the way the original did."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.errors import ConfigError


def utcnow() -> datetime:
    """The current time, UTC-aware (the only clock read outside the scheduler's injected one)."""
    return datetime.now(timezone.utc)


def parse_as_of(value: str | None) -> datetime:
    """Parse an ISO 8601 timestamp (naive means UTC); ``None`` means now."""
    if value is None:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as err:
        raise ConfigError(f"invalid --as-of {value!r}", hint="use ISO 8601, e.g. 2026-11-23T12:30:00Z") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(f"unknown timezone {name!r}", hint="use an IANA name like America/Chicago") from err


def file_timestamp(as_of: datetime, tz: str) -> str:
    """The original file-name timestamp, ``%Y%m%d_%H%M%S``, of ``as_of`` in ``tz``."""
    return as_of.astimezone(zone(tz)).strftime("%Y%m%d_%H%M%S")
