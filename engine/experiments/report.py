"""``engine impact``'s answer: per run, push and variant, the two arms and what ``stats.compare`` makes of them.

Built from the counts only (``ImpactCounts``), as the run report and the page build theirs. The total sums
every run's counts per push, variant and conversion and is labelled as such: an automation reaches many
of the same users run after run, so the total is not a sample of independent users (the per-run rows are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from engine.experiments.stats import Comparison, compare
from engine.state.model import ALL_VARIANTS, ImpactCounts

ALL_RUNS = "all runs"  # the run label of the totals
TOTAL_NOTE = "sum over runs: users reached by several runs count once per run, so these are not independent samples"


@dataclass(frozen=True)
class ImpactRow:
    """One push (or one variant of it) of one run, or the total over every run, for one conversion."""

    run: str  # the automation run id, or ALL_RUNS
    send_at: datetime | None  # when the live send began (None: the total)
    push: str
    variant: str  # '' (ALL_VARIANTS): the push as a whole
    conversion: str
    within_seconds: int
    window_closed: bool
    comparison: Comparison

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "send_at": self.send_at.isoformat() if self.send_at else None,
            "push": self.push,
            "variant": self.variant or None,
            "conversion": self.conversion,
            "within_seconds": self.within_seconds,
            "window_closed": self.window_closed,
            **self.comparison.as_dict(),
        }


@dataclass(frozen=True)
class ImpactReport:
    """What ``engine impact AUTOMATION`` shows: every run's rows, then the all-runs totals."""

    automation_id: str
    since: datetime | None
    now: datetime
    conversions: tuple[str, ...]
    runs: tuple[ImpactRow, ...]
    totals: tuple[ImpactRow, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "automation": self.automation_id,
            "since": self.since.isoformat() if self.since else None,
            "now": self.now.isoformat(),
            "conversions": list(self.conversions),
            "runs": [r.as_dict() for r in self.runs],
            "totals": [r.as_dict() for r in self.totals],
            "totals_note": TOTAL_NOTE,
        }


def _row(counts: ImpactCounts) -> ImpactRow:
    return ImpactRow(
        run=counts.run_id,
        send_at=counts.send_at,
        push=counts.push,
        variant=counts.variant,
        conversion=counts.conversion,
        within_seconds=counts.within_seconds,
        window_closed=counts.window_closed,
        comparison=compare(
            counts.treated,
            counts.treated_converted,
            counts.held_out,
            counts.held_out_converted,
            window_closed=counts.window_closed,
        ),
    )


def build_report(
    automation_id: str,
    counts: Sequence[ImpactCounts],
    *,
    conversions: Sequence[str],
    since: datetime | None,
    now: datetime,
) -> ImpactReport:
    """Rows per run in send order (the push before its variants), then one total per push, variant, conversion."""
    ordered = sorted(
        counts, key=lambda c: (c.send_at, c.run_id, c.push, c.conversion, c.variant != ALL_VARIANTS, c.variant)
    )
    sums: dict[tuple[str, str, str], list[int]] = {}
    closed: dict[tuple[str, str, str], bool] = {}
    within: dict[tuple[str, str, str], int] = {}
    for c in ordered:
        key = (c.push, c.conversion, c.variant)
        total = sums.setdefault(key, [0, 0, 0, 0])
        for i, value in enumerate((c.treated, c.treated_converted, c.held_out, c.held_out_converted)):
            total[i] += value
        closed[key] = closed.get(key, True) and c.window_closed
        within[key] = c.within_seconds
    totals = tuple(
        ImpactRow(
            run=ALL_RUNS,
            send_at=None,
            push=push,
            variant=variant,
            conversion=conversion,
            within_seconds=within[(push, conversion, variant)],
            window_closed=closed[(push, conversion, variant)],
            comparison=compare(*sums[(push, conversion, variant)], window_closed=closed[(push, conversion, variant)]),
        )
        for push, conversion, variant in sorted(sums, key=lambda k: (k[0], k[1], k[2] != ALL_VARIANTS, k[2]))
    )
    return ImpactReport(
        automation_id=automation_id,
        since=since,
        now=now,
        conversions=tuple(conversions),
        runs=tuple(_row(c) for c in ordered),
        totals=totals,
    )
