"""``engine impact``'s answer: per run, push and variant, the two arms and what ``stats.compare`` makes of them.

Built from the counts only (``ImpactCounts``), as the run report and the page build theirs. The total sums
every run's counts per push, variant and conversion and is labelled as such: an automation reaches many
of the same users run after run, so the total is not a sample of independent users (the per-run rows are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from engine.experiments.views import ALL_RUNS, ImpactLine, line, summed
from engine.state.model import ALL_VARIANTS, ImpactCounts

TOTAL_NOTE = "sum over runs: users reached by several runs count once per run, so these are not independent samples"


@dataclass(frozen=True)
class ImpactReport:
    """What ``engine impact AUTOMATION`` shows: every run's rows, then the all-runs totals."""

    automation_id: str
    since: datetime | None
    now: datetime
    conversions: tuple[str, ...]
    runs: tuple[ImpactLine, ...]
    totals: tuple[ImpactLine, ...]

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
    sums = summed(ordered, lambda c: (c.push, c.conversion, c.variant))
    totals = tuple(
        ImpactLine(
            run_id=ALL_RUNS,
            automation_id=automation_id,
            push=push,
            variant=variant,
            conversion=conversion,
            within_seconds=total.within_seconds,
            send_at=None,
            window_closed=total.closed,
            comparison=total.comparison(),
        )
        for (push, conversion, variant), total in sorted(
            sums.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] != ALL_VARIANTS, item[0][2])
        )
    )
    return ImpactReport(
        automation_id=automation_id,
        since=since,
        now=now,
        conversions=tuple(conversions),
        runs=tuple(line(c) for c in ordered),
        totals=totals,
    )
