"""engine.impact as people read it: stored counts joined to their comparison (``stats.compare``).

The run report, ``engine report --history``, the operator page and /metrics show impact through
this module, so each shows the same rates, intervals and verdicts as ``engine impact``: only
counts are stored, everything else is derived here when read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

import psycopg

from engine.experiments.stats import Comparison, compare
from engine.state import impact
from engine.state.model import ALL_VARIANTS, ImpactCounts


@dataclass(frozen=True)
class ImpactLine:
    """One stored row (a push, or one variant of it, against one conversion) and what its counts say."""

    run_id: str
    automation_id: str
    push: str
    variant: str  # ALL_VARIANTS: the push as a whole
    conversion: str
    within_seconds: int
    send_at: datetime
    window_closed: bool
    measured_at: datetime | None
    comparison: Comparison

    @property
    def closes_at(self) -> datetime:
        """When this conversion's window ends (from the live send)."""
        return self.send_at + timedelta(seconds=self.within_seconds)

    @property
    def variant_label(self) -> str:
        return "all" if self.variant == ALL_VARIANTS else self.variant

    @property
    def within(self) -> str:
        return _duration(self.within_seconds)


def line(row: ImpactCounts) -> ImpactLine:
    """A stored row with its comparison."""
    return ImpactLine(
        run_id=row.run_id,
        automation_id=row.automation_id,
        push=row.push,
        variant=row.variant,
        conversion=row.conversion,
        within_seconds=row.within_seconds,
        send_at=row.send_at,
        window_closed=row.window_closed,
        measured_at=row.measured_at,
        comparison=compare(
            row.treated, row.treated_converted, row.held_out, row.held_out_converted, window_closed=row.window_closed
        ),
    )


def of_run(conn: psycopg.Connection, run_id: str) -> list[ImpactLine]:
    """The measured rows of one automation run: per push (variant ``all`` first, then each variant)."""
    return [line(row) for row in impact.of_run(conn, run_id)]


def latest(conn: psycopg.Connection) -> list[ImpactLine]:
    """Each automation's latest closed-window run, per push and conversion (the operator page)."""
    return [line(row) for row in impact.latest(conn)]


@dataclass(frozen=True)
class RunConversion:
    """One run against one conversion, its pushes summed (what ``engine report --history`` charts)."""

    run_id: str
    send_at: datetime
    conversion: str
    window_closed: bool
    comparison: Comparison


def by_run(rows: Iterable[ImpactCounts]) -> list[RunConversion]:
    """Push-level rows summed per (run, conversion), oldest run first: a user sent two pushes of one run counts
    in each (as ``totals`` counts them); the per-push rows of the run report are the exact ones."""
    sums: dict[tuple[datetime, str, str], list[int]] = {}
    closed: dict[tuple[datetime, str, str], bool] = {}
    for row in rows:
        if row.variant != ALL_VARIANTS:
            continue
        key = (row.send_at, row.run_id, row.conversion)
        counts = sums.setdefault(key, [0, 0, 0, 0])
        for i, n in enumerate((row.treated, row.treated_converted, row.held_out, row.held_out_converted)):
            counts[i] += n
        closed[key] = closed.get(key, True) and row.window_closed
    out = []
    for key in sorted(sums):
        send_at, run_id, conversion = key
        out.append(
            RunConversion(run_id, send_at, conversion, closed[key], compare(*sums[key], window_closed=closed[key]))
        )
    return out


def of_automation(
    conn: psycopg.Connection, automation_id: str, *, since: datetime | None = None
) -> list[RunConversion]:
    """The automation's runs (sent since ``since``) per conversion, oldest first."""
    return by_run(impact.of_automation(conn, automation_id, since=since))


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
