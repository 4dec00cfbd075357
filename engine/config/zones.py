"""Time-zone names: "did you mean" for one that is not an IANA name, wherever a time zone is checked.

A US abbreviation (``CST``) is no IANA name, and the spelling nearest to it (``UCT``) is the wrong
advice: abbreviations map to the zone people mean. Otherwise the suggestion is the IANA name (or
its city) at the smallest edit distance, case aside, when it is near enough to be a typo.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

ABBREVIATIONS = {
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "CT": "America/Chicago",
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "ET": "America/New_York",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "MT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "PT": "America/Los_Angeles",
    "AKST": "America/Anchorage",
    "AKDT": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "BST": "Europe/London",
    "CEST": "Europe/Paris",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
}


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def suggest_zone(name: str) -> str | None:
    """The IANA name ``name`` most likely means, or None when nothing is near."""
    text = name.strip()
    if text.upper() in ABBREVIATIONS:
        return ABBREVIATIONS[text.upper()]
    key = text.lower().replace(" ", "_")
    scored = [
        (min(_distance(key, zone.lower()), _distance(key, zone.rsplit("/", 1)[-1].lower())), zone) for zone in _zones()
    ]
    best, zone = min(scored)
    return zone if best <= max(1, len(key) // 4) else None


def zone_hint(name: str) -> str:
    """A hint for an unknown time zone ``name``."""
    close = suggest_zone(name)
    return f"did you mean {close!r}?" if close else "use an IANA name such as America/Chicago"
