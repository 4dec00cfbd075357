"""engine.experiments.views: stored impact counts as the report, the history page and the operator page read them.

Rows are built by hand (no database: the repository's SQL is exercised by tests/report/test_impact_report.py and
tests/web/test_impact_page.py); expected sums and rates are worked out in the comments.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from engine.experiments.views import by_run, line
from engine.state.model import ALL_VARIANTS, ImpactCounts

T1 = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)
T2 = T1 + timedelta(days=1)


def _row(run: str, at: datetime, push: str, variant: str, conversion: str, counts: tuple[int, int, int, int],
         closed: bool = True) -> ImpactCounts:  # fmt: skip
    return ImpactCounts(run, "daily", push, variant, conversion, 86400, at, closed, *counts)


def test_a_line_carries_its_comparison_and_window_end() -> None:
    row = _row("r1", T1, "hello", ALL_VARIANTS, "made_offer", (200, 30, 50, 5))
    shown = line(row)
    # 30 / 200 = 15 %, 5 / 50 = 10 %: +5 points; the 24h window ends a day after the send
    assert shown.comparison.treated_rate == 0.15 and shown.comparison.held_out_rate == 0.1
    assert abs((shown.comparison.uplift or 0) - 0.05) < 1e-12
    assert shown.closes_at == T1 + timedelta(days=1) and shown.within == "24h" and shown.variant_label == "all"
    assert line(_row("r1", T1, "hello", "short", "made_offer", (100, 20, 50, 5))).variant_label == "short"


def test_by_run_sums_pushes_per_run_and_conversion_and_leaves_variants_out() -> None:
    rows = [
        _row("r2", T2, "hello", ALL_VARIANTS, "made_offer", (100, 10, 10, 1)),
        _row("r1", T1, "hello", ALL_VARIANTS, "made_offer", (100, 10, 10, 1)),
        _row("r1", T1, "bye", ALL_VARIANTS, "made_offer", (300, 50, 30, 2)),
        _row("r1", T1, "hello", "short", "made_offer", (60, 9, 10, 1)),  # a variant: part of "hello" already
        _row("r1", T1, "hello", ALL_VARIANTS, "active_again", (100, 1, 10, 0), closed=False),
        _row("r1", T1, "bye", ALL_VARIANTS, "active_again", (300, 3, 30, 0)),
    ]
    runs = by_run(rows)
    # oldest run first, conversions in name order; r1 made_offer: (10 + 50) / (100 + 300) = 15 % against
    # (1 + 2) / (10 + 30) = 7.5 %
    assert [(r.run_id, r.conversion) for r in runs] == [
        ("r1", "active_again"),
        ("r1", "made_offer"),
        ("r2", "made_offer"),
    ]
    made = runs[1].comparison
    assert (made.treated, made.treated_converted, made.held_out, made.held_out_converted) == (400, 60, 40, 3)
    assert made.treated_rate == 0.15 and made.held_out_rate == 0.075
    # one push of r1's active_again is still in its window: the sum is not closed either
    assert runs[0].window_closed is False and runs[1].window_closed is True
    assert "window still open" in runs[0].comparison.verdict
