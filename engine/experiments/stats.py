"""Treated against held out: conversion rates, uplift, its interval and p-value, and a verdict in words.

The statistics are statsmodels' (``statsmodels.stats.proportion``), chosen for how they behave at the
rates pushes convert at (often a few percent, sometimes 0 in a small holdout):

- each arm's rate: the **Wilson** score interval (the Wald interval collapses to a point at 0 conversions);
- the absolute uplift (treated rate minus held-out rate): **Newcombe's** hybrid score interval, which keeps
  its coverage with unequal arms (a 10 % holdout is a ninth of the treated arm) and small counts;
- the relative uplift (treated / held out - 1): the **log-adjusted** ratio interval;
- the p-value: the two-sided **score test** (Miettinen-Nurminen) of equal rates, which agrees with the
  score-based interval above and, unlike the pooled z-test, is defined when one arm has no conversions;
- "need about N more users per arm": the normal-approximation power of a two-sample test of
  proportions (``NormalIndPower``, Cohen's h, 5 % two-sided, 80 % power) for the uplift seen, or for a
  one-point uplift when none is seen yet.

Runs of one automation often reach the same users again, so a sum over runs is not a sample of
independent users; the per-run rows are the exact ones (``engine impact`` labels the total so).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

ALPHA = 0.05  # 95 % intervals, 5 % two-sided tests
POWER = 0.8
DEFAULT_DETECTABLE = 0.01  # the uplift to size the arms for when the data shows none (one point)

Interval = tuple[float, float]


@dataclass(frozen=True)
class Comparison:
    """One push (or variant) of one run, or a total: the two arms' counts and what they say."""

    treated: int
    treated_converted: int
    held_out: int
    held_out_converted: int
    treated_rate: float | None
    treated_ci: Interval | None
    held_out_rate: float | None
    held_out_ci: Interval | None
    uplift: float | None  # absolute: treated rate - held-out rate (0.05 = five points)
    uplift_ci: Interval | None
    relative_uplift: float | None  # treated rate / held-out rate - 1
    relative_ci: Interval | None
    p_value: float | None
    needed_per_arm: int | None  # more users per arm to detect the uplift seen (None: already detected)
    significant: bool
    verdict: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    treated: int, treated_converted: int, held_out: int, held_out_converted: int, *, window_closed: bool = True
) -> Comparison:
    """The comparison of the two arms' counts; ``window_closed`` False says the counts can still grow."""
    t_rate, t_ci = _rate(treated_converted, treated)
    h_rate, h_ci = _rate(held_out_converted, held_out)
    uplift = uplift_ci = relative = relative_ci = p_value = None
    needed: int | None = None
    significant = False
    if t_rate is not None and h_rate is not None:
        uplift = t_rate - h_rate
        uplift_ci, p_value = _difference(treated_converted, treated, held_out_converted, held_out)
        if h_rate > 0:
            relative = t_rate / h_rate - 1
            relative_ci = _ratio(treated_converted, treated, held_out_converted, held_out)
        significant = p_value is not None and p_value < ALPHA
        if not significant:
            needed = _more_per_arm(t_rate, h_rate, treated, held_out)
    verdict = _verdict(treated, held_out, uplift, uplift_ci, significant, needed, window_closed)
    return Comparison(
        treated=treated,
        treated_converted=treated_converted,
        held_out=held_out,
        held_out_converted=held_out_converted,
        treated_rate=t_rate,
        treated_ci=t_ci,
        held_out_rate=h_rate,
        held_out_ci=h_ci,
        uplift=uplift,
        uplift_ci=uplift_ci,
        relative_uplift=relative,
        relative_ci=relative_ci,
        p_value=p_value,
        needed_per_arm=needed,
        significant=significant,
        verdict=verdict,
    )


def p_text(p: float | None) -> str:
    """A p-value as every view shows it (the CLI, the report, the history page, the operator page)."""
    return "-" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _rate(converted: int, users: int) -> tuple[float | None, Interval | None]:
    from statsmodels.stats.proportion import proportion_confint  # noqa: PLC0415  (statsmodels: ~1 s to import)

    if users <= 0:
        return None, None
    low, high = proportion_confint(converted, users, alpha=ALPHA, method="wilson")
    return converted / users, (float(low), float(high))


def _difference(t_conv: int, t_users: int, h_conv: int, h_users: int) -> tuple[Interval | None, float | None]:
    from statsmodels.stats.proportion import (  # noqa: PLC0415  (statsmodels: ~1 s to import)
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    with warnings.catch_warnings():  # 0/0 ratios inside statsmodels when both arms have no conversions
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = confint_proportions_2indep(
            t_conv, t_users, h_conv, h_users, method="newcomb", compare="diff", alpha=ALPHA
        )
        p_value = float(test_proportions_2indep(t_conv, t_users, h_conv, h_users, method="score").pvalue)
    if math.isnan(p_value):  # no conversion in either arm: no evidence of any difference
        p_value = 1.0
    return (float(low), float(high)), p_value


def _ratio(t_conv: int, t_users: int, h_conv: int, h_users: int) -> Interval | None:
    from statsmodels.stats.proportion import confint_proportions_2indep  # noqa: PLC0415  (~1 s to import)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = confint_proportions_2indep(
            t_conv, t_users, h_conv, h_users, method="log-adjusted", compare="ratio", alpha=ALPHA
        )
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return float(low) - 1, float(high) - 1


def _more_per_arm(t_rate: float, h_rate: float, treated: int, held_out: int) -> int | None:
    """Users to add to the smaller arm (and as many to the other) to detect the uplift seen, or one point."""
    from statsmodels.stats.power import NormalIndPower  # noqa: PLC0415  (statsmodels: ~1 s to import)
    from statsmodels.stats.proportion import proportion_effectsize  # noqa: PLC0415
    from statsmodels.tools.sm_exceptions import ConvergenceWarning  # noqa: PLC0415

    target = t_rate if abs(t_rate - h_rate) >= 1e-9 else min(h_rate + DEFAULT_DETECTABLE, 1.0)
    effect = abs(float(proportion_effectsize(target, h_rate)))
    if effect < 1e-9:
        return None
    ratio = max(treated, 1) / max(held_out, 1)  # nobs2 = ratio * nobs1: the holdout is the first arm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # an effect so large that under 2 users an arm would do (a rate of 0 against 1): the root finder gives up,
        # returns nan (no estimate, below) and would print its warning in the operator's terminal
        warnings.simplefilter("ignore", ConvergenceWarning)
        per_holdout = NormalIndPower().solve_power(effect_size=effect, alpha=ALPHA, power=POWER, ratio=ratio)
    if per_holdout is None or not math.isfinite(per_holdout):
        return None
    return max(0, math.ceil(float(per_holdout)) - held_out)


def _points(value: float) -> str:
    return f"{value * 100:+.2f} points"


def _verdict(
    treated: int,
    held_out: int,
    uplift: float | None,
    interval: Interval | None,
    significant: bool,
    needed: int | None,
    window_closed: bool,
) -> str:
    open_note = " (window still open: counts can still grow)" if not window_closed else ""
    if held_out == 0:
        return "no holdout: nothing to compare against (declare holdout: {percent: 10} on the automation)"
    if treated == 0:
        return "nobody was sent this push: nothing to measure"
    assert uplift is not None and interval is not None
    span = f"{_points(interval[0])} to {_points(interval[1])}"
    if significant:
        word = "raised" if uplift > 0 else "lowered"
        return f"the push {word} conversion by {_points(uplift)} (95 % CI {span}){open_note}"
    more = f": need about {needed:,} more users per arm" if needed else ""
    return f"no detectable effect yet{more} (uplift {_points(uplift)}, 95 % CI {span}){open_note}"
