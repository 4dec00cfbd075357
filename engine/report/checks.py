"""Warnings a report raises: a jump in audience size, a threshold that removed most rows, FCM errors."""

from __future__ import annotations

from statistics import median
from typing import Sequence

from engine.report.model import FunnelStep, SendSummary


def size_jump(size: int, previous: Sequence[int], *, pct: float) -> str | None:
    """Compare with the median of the last runs; None when there is no history or the change is small."""
    if not previous:
        return None
    base = median(previous)
    if base == 0:
        return None if size == 0 else f"audience size {size:,} after previous runs of 0 rows"
    change = (size - base) / base * 100
    if abs(change) <= pct:
        return None
    return (
        f"audience size {size:,} is {change:+.0f}% against the median of the last {len(previous)} run(s) ({base:,.0f})"
    )


def threshold_drops(steps: Sequence[FunnelStep], *, pct: float) -> list[str]:
    """A threshold step whose removals exceed ``pct`` percent of the rows it was given."""
    out = []
    for step in steps:
        if step.kind != "threshold" or step.removed is None:
            continue
        before = step.rows + step.removed
        if before and step.removed / before * 100 > pct:
            out.append(
                f"{step.label} removed {step.removed:,} of {before:,} rows "
                f"({step.removed / before:.0%}, above {pct:g}%)"
            )
    return out


def fcm_error_rate(sends: Sequence[SendSummary], *, pct: float) -> str | None:
    """FCM failures as a share of answered pushes (sent + failed), over every send of the run."""
    sent = sum(s.outcomes.sent for s in sends)
    failed = sum(s.outcomes.failed for s in sends)
    if not sent + failed:
        return None
    rate = failed / (sent + failed) * 100
    if rate <= pct:
        return None
    return f"FCM error rate {rate:.1f}% ({failed:,} failed of {sent + failed:,}), above {pct:g}%"


def in_doubt(sends: Sequence[SendSummary]) -> str | None:
    count = sum(s.outcomes.in_doubt for s in sends)
    return f"{count:,} push(es) in doubt (handed to FCM, answer not recorded)" if count else None
