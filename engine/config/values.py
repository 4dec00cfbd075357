"""The value types settings are declared with: each parses its text form and checks what it accepts.

An environment variable is always text, engine.yaml gives YAML values: every type below takes both,
so a value is checked the same way wherever it came from. A check's message never repeats a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import AfterValidator, BeforeValidator

from engine.config.zones import zone_hint
from engine.secrets import mask_text


@dataclass(frozen=True)
class Var:
    """Where a setting is read besides engine.yaml: its environment variable (None: engine.yaml only).

    A setting without a ``Var`` is set in code only. A secret's value never appears in an error.
    """

    name: str | None
    secret: bool = False


def _names(value: Any) -> Any:
    """``"a, b"`` (an environment variable) as ``("a", "b")``; a YAML list as it is."""
    return tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else value


def _dsn(value: str) -> str:
    try:
        conninfo_to_dict(value)
    except psycopg.ProgrammingError as err:
        problem = str(err).strip().splitlines()[0] if str(err).strip() else "unparsable"
        raise ValueError(f"not a connection string libpq can parse: {mask_text(problem, value)}") from None
    return value


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("not an http:// or https:// URL")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"not an IANA time zone name: {zone_hint(value)}") from None
    return value


def _off_or_within(low: float, high: float) -> AfterValidator:
    """Exactly 0 switches it off; anything else lies in ``low..high``."""

    def check(value: float) -> float:
        if value != 0 and not low <= value <= high:
            raise ValueError(f"{value:g} is outside {low:g}..{high:g} (or exactly 0 for none)")
        return value

    return AfterValidator(check)


Names = Annotated[tuple[str, ...], BeforeValidator(_names)]  # comma-separated in a variable
Dsn = Annotated[str, AfterValidator(_dsn)]
Url = Annotated[str, AfterValidator(_url)]
Zone = Annotated[str, AfterValidator(_zone)]
UserPath = Annotated[Path, AfterValidator(Path.expanduser)]
Timeout = Annotated[float, _off_or_within(0.001, 7 * 86400)]
