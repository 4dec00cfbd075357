"""Time-zone suggestions: abbreviations people type, then the IANA name at the smallest edit distance."""

from __future__ import annotations

import pytest

from engine.config import resolve
from engine.config.zones import suggest_zone
from engine.errors import ConfigError


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("CST", "America/Chicago"),
        ("cst", "America/Chicago"),
        ("EST", "America/New_York"),
        ("PST", "America/Los_Angeles"),
        ("PDT", "America/Los_Angeles"),
        ("MST", "America/Denver"),
        ("America/Chicgo", "America/Chicago"),
        ("america/chicago", "America/Chicago"),
        ("Chicago", "America/Chicago"),
        ("new york", "America/New_York"),
        ("Europe/Lodnon", "Europe/London"),
        ("Mars/Olympus", None),
    ],
)
def test_suggestions(typed: str, meant: str | None) -> None:
    assert suggest_zone(typed) == meant


def test_settings_suggest_the_zone_an_abbreviation_means() -> None:
    with pytest.raises(ConfigError, match="did you mean 'America/Chicago'"):
        resolve({}, env={"ENGINE_TIMEZONE": "CST"})
