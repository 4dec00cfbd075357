"""engine.impact as people read it: stored counts joined to their comparison (``stats.compare``).

The run report, ``engine report --history``, the operator page and /metrics show impact through
this module, so each shows the same rates, intervals and verdicts as ``engine impact``: only
counts are stored, everything else is derived here when read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Hashable, Iterable, TypeVar

import psycopg

from engine.experiments.stats import Comparison, compare
from engine.schedules.durations import format_duration
from engine.state import impact
from engine.state.model import ALL_VARIANTS, ImpactCounts

K = TypeVar("K", bound=Hashable)


ALL_RUNS = "all runs"  # the run label of a total over runs


@dataclass(frozen=True)
class ImpactLine:
    """One push (or one variant of it) against one conversion, for one run or summed over runs (``run_id``
    ALL_RUNS, no ``send_at``), and what its counts say: the one row ``engine impact``, its ``--json``, the
    run report, the history page and the operator page show."""

    run_id: str
    automation_id: str
    push: str
    variant: str  # ALL_VARIANTS: the push as a whole
    conversion: str
    within_seconds: int
    send_at: datetime | None  # when the live send began (None: a total over runs)
    window_closed: bool
    comparison: Comparison
    measured_at: datetime | None = None

    @property
    def closes_at(self) -> datetime | None:
        """When this conversion's window ends (from the live send)."""
        return self.send_at + timedelta(seconds=self.within_seconds) if self.send_at else None

    @property
    def variant_label(self) -> str:
        return "all" if self.variant == ALL_VARIANTS else self.variant

    @property
    def within(self) -> str:
        """The window as schedules.yaml spells it (``24h``, ``1h30m``)."""
        return format_duration(timedelta(seconds=self.within_seconds))

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "push": self.push,
            "variant": self.variant or None,
            "conversion": self.conversion,
            "within_seconds": self.within_seconds,
            "window_closed": self.window_closed,
            **self.comparison.as_dict(),
        }


@dataclass
class _Sum:
    """Counts of several stored rows added up (a window is closed only when every row's is)."""

    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    closed: bool = True
    within_seconds: int = 0

    def add(self, row: ImpactCounts) -> None:
        for i, n in enumerate((row.treated, row.treated_converted, row.held_out, row.held_out_converted)):
            self.counts[i] += n
        self.closed = self.closed and row.window_closed
        self.within_seconds = max(self.within_seconds, row.within_seconds)

    def comparison(self) -> Comparison:
        treated, treated_converted, held_out, held_out_converted = self.counts
        return compare(treated, treated_converted, held_out, held_out_converted, window_closed=self.closed)


def summed(rows: Iterable[ImpactCounts], key: Callable[[ImpactCounts], K]) -> dict[K, _Sum]:
    """The rows' counts added up per ``key``."""
    sums: dict[K, _Sum] = {}
    for row in rows:
        sums.setdefault(key(row), _Sum()).add(row)
    return sums


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
    sums = summed((row for row in rows if row.variant == ALL_VARIANTS), lambda r: (r.send_at, r.run_id, r.conversion))
    return [
        RunConversion(run_id, send_at, conversion, total.closed, total.comparison())
        for (send_at, run_id, conversion), total in sorted(sums.items(), key=lambda item: item[0])
    ]


def of_automation(
    conn: psycopg.Connection, automation_id: str, *, since: datetime | None = None
) -> list[RunConversion]:
    """The automation's runs (sent since ``since``) per conversion, oldest first."""
    return by_run(impact.of_automation(conn, automation_id, since=since))
