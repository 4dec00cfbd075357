"""Holdout and variant assignment: a hash of (salt, user id), checked against binomial bounds on 10k users.

The bounds are worked out by hand: with n users each held out with probability p, the count is
Binomial(n, p); four standard deviations (sqrt(n p (1 - p))) around n p is far wider than chance
needs (a fair draw leaves it about once in 16,000), so a failure means the hash is biased.
"""

from __future__ import annotations

import math
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from engine.documents import load
from engine.errors import ScheduleError
from engine.push.arms import GLOBAL_SALT, HoldoutGroup, HoldoutScope, held_out_by, pick, unit
from engine.schedules.loader import build_schedules, check_document

USERS = [str(uuid.UUID(int=(i * 2654435761) % 2**128 | 1 << 120)) for i in range(10_000)]


def _within_binomial(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def test_ten_percent_holdout_is_within_the_binomial_bound_and_the_same_every_time() -> None:
    group = HoldoutGroup(HoldoutScope.AUTOMATION, 10.0, "layer3_daily")
    held = {u for u in USERS if group.holds(u)}
    assert _within_binomial(len(held), len(USERS), 0.10)  # 1,000 +- 120
    assert held == {u for u in USERS if group.holds(u.upper())}  # the CSV's spelling of an id does not matter
    # a smaller audience keeps each user's arm: membership depends on nobody else
    assert {u for u in USERS[:500] if group.holds(u)} == held & set(USERS[:500])


def test_another_process_derives_the_same_holdout() -> None:
    # what a second replica computes: a fresh interpreter, no shared state
    code = (
        "import sys; from engine.push.arms import HoldoutGroup, HoldoutScope\n"
        "g = HoldoutGroup(HoldoutScope.AUTOMATION, 10.0, 'layer3_daily')\n"
        "print('\\n'.join(u for u in sys.stdin.read().split() if g.holds(u)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input="\n".join(USERS), capture_output=True, text=True, check=True
    ).stdout
    group = HoldoutGroup(HoldoutScope.AUTOMATION, 10.0, "layer3_daily")
    assert set(out.split()) == {u for u in USERS if group.holds(u)}


def test_salts_give_independent_groups() -> None:
    a = {u for u in USERS if unit("a", u) < 0.1}
    b = {u for u in USERS if unit("b", u) < 0.1}
    # independent 10 % draws overlap on 1 % of the users: 100 +- 4 sd of Binomial(10000, 0.01)
    assert _within_binomial(len(a & b), len(USERS), 0.01)


def test_the_global_group_is_checked_first() -> None:
    own = HoldoutGroup(HoldoutScope.AUTOMATION, 50.0, "x")
    standing = HoldoutGroup(HoldoutScope.GLOBAL, 5.0, GLOBAL_SALT)
    reasons = [held_out_by((standing, own), u) for u in USERS]
    in_global = sum(1 for r in reasons if r is standing)
    assert _within_binomial(in_global, len(USERS), 0.05)
    # the rest is split by the automation's own 50 %: about half of the 95 % left
    assert _within_binomial(sum(1 for r in reasons if r is own), len(USERS), 0.95 * 0.5)


@pytest.mark.parametrize("weights", [(1.0, 1.0), (1.0, 3.0), (2.0, 1.0, 1.0)])
def test_variant_shares_match_their_weights(weights: tuple[float, ...]) -> None:
    counts = [0] * len(weights)
    for u in USERS:
        counts[pick("variant:push", u, weights)] += 1
    total = sum(weights)
    assert all(_within_binomial(c, len(USERS), w / total) for c, w in zip(counts, weights, strict=True))


def _problems(tmp_path: Path, text: str) -> list[ScheduleError]:
    path = tmp_path / "schedules.yaml"
    path.write_text(text, encoding="utf-8")
    return check_document(load(path, "schedules.yaml", error=ScheduleError))  # type: ignore[return-value]


_TEMPLATE = """\
version: 1
templates:
  p:
    audience: a
    output: o
    layer: 3
    title: "T"
    body: "B"
{variants}
automations:
  - id: daily
    audience: a
    schedule: {{cron: "0 12 * * *", timezone: UTC}}
    pushes: [p]
{holdout}
  - id: weekly
    audience: a
    schedule: {{cron: "0 12 * * 1", timezone: UTC}}
    pushes: [p]
{other}
"""


def schedules_file(variants: str = "", holdout: str = "", other: str = "") -> str:
    """A schedules.yaml of one push (``variants``: its variants block) and two automations, daily (``holdout``:
    lines of its experiment) and weekly (``other``)."""
    return _TEMPLATE.format(variants=variants, holdout=holdout, other=other)


@pytest.mark.parametrize(
    ("holdout", "line", "words"),
    [
        ("    holdout: {percent: 0}", 15, "minimum of 0"),  # line 15: daily's `holdout:` in _TEMPLATE
        ("    holdout: {percent: 100}", 15, "maximum of 100"),
        ("    holdout: {percent: 10, scope: everyone}", 15, "'everyone' is not one of ['automation', 'global']"),
        ("    holdout: {percent: 10, salts: x}", 15, "unknown key 'salts'"),
        ("    holdout: {salt: x}", 15, "'percent' is a required property"),
    ],
)
def test_a_bad_holdout_is_a_located_error(tmp_path: Path, holdout: str, line: int, words: str) -> None:
    problems = _problems(tmp_path, schedules_file(holdout=holdout))
    assert problems, holdout
    assert problems[0].location is not None and problems[0].location.line == line
    assert words in str(problems[0])


def test_two_different_global_holdouts_are_refused_where_the_second_is(tmp_path: Path) -> None:
    text = schedules_file(
        holdout="    holdout: {percent: 5, scope: global}", other="    holdout: {percent: 10, scope: global}"
    )
    [problem] = _problems(tmp_path, text)
    assert problem.location is not None and problem.location.line == 20  # weekly's `holdout:` line
    assert "global holdout" in str(problem) and "'daily'" in str(problem)


def test_the_same_global_holdout_everywhere_is_one_group(tmp_path: Path) -> None:
    text = schedules_file(
        holdout="    holdout: {percent: 5, scope: global}", other="    holdout: {percent: 5, scope: global}"
    )
    path = tmp_path / "schedules.yaml"
    path.write_text(text, encoding="utf-8")
    doc = load(path, "schedules.yaml", error=ScheduleError)
    assert check_document(doc) == []
    schedules = build_schedules(doc)
    daily, weekly = schedules.automations
    assert (
        schedules.holdouts(daily)
        == schedules.holdouts(weekly)
        == (HoldoutGroup(HoldoutScope.GLOBAL, 5.0, GLOBAL_SALT),)
    )


@pytest.mark.parametrize(
    ("variants", "line", "words"),
    [
        ("    variants:\n      - {name: a, title: X}", 9, "is too short"),  # one variant is no experiment: minItems 2
        ("    variants:\n      - {name: a, title: X}\n      - {name: a, body: Y}", 11, "two variants"),
        ("    variants:\n      - {name: a, weight: 0}\n      - {name: b}", 10, "minimum of 0"),
        ("    variants:\n      - {name: a, title: '[[vra:x]]'}\n      - {name: b}", 10, "malformed variable"),
    ],
)
def test_a_bad_variant_is_a_located_error(tmp_path: Path, variants: str, line: int, words: str) -> None:
    problems = _problems(tmp_path, schedules_file(variants=variants))
    assert problems
    assert problems[0].location is not None and problems[0].location.line == line, problems[0]
    assert words in str(problems[0])


def test_the_global_group_is_held_out_of_every_automation_even_one_that_does_not_declare_it(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(
        schedules_file(holdout="    holdout: {percent: 5, scope: global}", other="    holdout: {percent: 20}"),
        encoding="utf-8",
    )
    schedules = build_schedules(load(path, "schedules.yaml", error=ScheduleError))
    daily, weekly = schedules.automations
    standing = HoldoutGroup(HoldoutScope.GLOBAL, 5.0, GLOBAL_SALT)
    assert schedules.holdouts(daily) == (standing,)
    # weekly declares only its own 20 %: the standing group comes first, then its own (salted with its id)
    assert schedules.holdouts(weekly) == (standing, HoldoutGroup(HoldoutScope.AUTOMATION, 20.0, "weekly"))
