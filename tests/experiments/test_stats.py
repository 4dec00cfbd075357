"""engine.experiments.stats against formulas written out here, independently of statsmodels."""

from __future__ import annotations

import math
import warnings

import pytest

from engine.experiments.stats import compare

Z = 1.959963984540054  # the standard normal's 97.5 % quantile (95 % two-sided)
Z_POWER = 0.8416212335729143  # its 80 % quantile (80 % power)


def wilson(converted: int, users: int) -> tuple[float, float]:
    """The Wilson score interval, from its textbook formula."""
    p = converted / users
    centre = (p + Z * Z / (2 * users)) / (1 + Z * Z / users)
    half = Z * math.sqrt(p * (1 - p) / users + Z * Z / (4 * users * users)) / (1 + Z * Z / users)
    return centre - half, centre + half


def test_each_arms_interval_is_wilsons() -> None:
    c = compare(100, 15, 50, 4)
    assert c.treated_rate == 0.15 and c.held_out_rate == 0.08
    assert c.treated_ci == pytest.approx(wilson(15, 100), abs=1e-12)
    assert c.held_out_ci == pytest.approx(wilson(4, 50), abs=1e-12)


def test_users_needed_per_arm_follow_cohens_h() -> None:
    # 10.5 % against 10 % on 10,000 users each: not detectable yet. 2 asin(sqrt(rate)) has variance 1/n, so the
    # difference of two arms of n has 2/n and equal arms need 2 ((z + z_power) / h)^2 users each, with Cohen's
    # h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p2)); the power routine adds the far tail's tiny share.
    c = compare(10_000, 1_050, 10_000, 1_000)
    assert not c.significant
    h = 2 * math.asin(math.sqrt(0.105)) - 2 * math.asin(math.sqrt(0.10))
    per_arm = 2 * ((Z + Z_POWER) / h) ** 2  # 57,756
    assert c.needed_per_arm is not None
    assert abs(c.needed_per_arm - (per_arm - 10_000)) <= 2
    assert f"{c.needed_per_arm:,}" in c.verdict


@pytest.mark.parametrize("counts", [(1, 0, 1, 1), (2, 2, 1, 0), (5, 4, 1, 0), (8, 2, 0, 0), (0, 0, 3, 1)])
def test_tiny_arms_give_a_verdict_and_print_no_warning(counts: tuple[int, int, int, int]) -> None:
    # a rate of 0 against 1 on one or two users: the power solver cannot converge (under 2 users would do);
    # no estimate then, and nothing printed in the operator's terminal
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = compare(*counts)
    assert [str(w.message) for w in caught] == []
    assert c.verdict
