"""The scheduler measures a run once its longest conversion window has passed, and writes its report again.

An automation with a 50 % holdout and one conversion (``created_offer`` within 1h) runs through its phases on
the injected clock, with T a couple of minutes after the real time: the ledger's send times are real, so the
measurement's window (the real send time plus 1h) has closed when the clock reaches T + 1h. Offers are
inserted by hand for 5 users who were sent the push and 2 who were held out, after their push: the expected
counts are those, with the arms' sizes read from the fake FCM (a held-out user receives nothing).
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from engine.errors import EngineError
from engine.scheduler import phases
from engine.scheduler.phases import MEASURE_RETRY, Next, PhaseContext, advance
from engine.state.model import AutomationRunStatus
from tests.fixtures.htmlpage import parse
from tests.scheduler.world import (  # noqa: F401
    REPO,
    Clock,
    SchedWorld,
    automation_yaml,
    drive,
    sched_db,
    sched_world,
    seconds,
)

USERS = 30
WITHIN = timedelta(hours=1)
CONVERSIONS = "    holdout: {percent: 50}\n    conversions: [{name: created_offer, within: 1h}]\n"


def _project(world: SchedWorld, automation: str, cohort: str) -> None:
    shutil.copytree(REPO / "sql" / "conversions", world.project / "sql" / "conversions")
    shutil.copytree(REPO / "sql" / "macros", world.project / "sql" / "macros")
    world.write_automations(automation_yaml(automation, cohort, extra=CONVERSIONS))


def _offers(world: SchedWorld, users: list[str]) -> None:
    """One offer now (after every push of the run was answered) for each user."""
    with psycopg.connect(world.dsn, autocommit=True) as conn:
        for user in users:
            conn.execute(
                "INSERT INTO offers (creator_user_id, created_at, updated_at) VALUES (%s, now(), now())", (user,)
            )


def _sent_and_converted(world: SchedWorld, users: list[str]) -> tuple[list[str], list[str]]:
    """The cohort split by the fake FCM (treated: got the push; held out: got nothing); 5 and 2 of them convert."""
    received = world.received(users)
    treated = [u for u, n in zip(users, received, strict=True) if n == 1]
    held = [u for u, n in zip(users, received, strict=True) if n == 0]
    # 50 % of 30: at least 2 in each arm unless Binomial(30, 0.5) lands in its outer 1e-7
    assert len(treated) >= 5 and len(held) >= 2 and len(treated) + len(held) == USERS
    _offers(world, treated[:5] + held[:2])
    return treated, held


def _t_soon() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=2)


def test_a_run_is_measured_after_its_window_and_its_report_shows_the_impact(sched_world: SchedWorld) -> None:
    _project(sched_world, "a_meas", "meas")
    users = sched_world.add_cohort("meas", USERS)
    t = _t_soon()
    run = sched_world.create_run("a_meas", t)
    arms: list[tuple[list[str], list[str]]] = []
    stamps: list[tuple[str, datetime]] = []

    def before(phase: str, now: datetime) -> None:
        stamps.append((phase, now))
        if phase == "cleanup" and not arms:  # the live send is done: the conversions happen now
            arms.append(_sent_and_converted(sched_world, users))

    done = drive(sched_world, run.id, Clock(t - seconds(60)), before=before)
    # after cleanup, the cleanup job once more at T + 1h: the measurement
    assert done[-2:] == ["cleanup", "cleanup"] and stamps[-1] == ("cleanup", t + WITHIN)
    assert sched_world.run(run.id).status is AutomationRunStatus.CLEANED
    [(treated, held)] = arms
    rows = sched_world.query_all(
        "SELECT variant, conversion, window_closed, treated, treated_converted, held_out, held_out_converted"
        " FROM engine.impact WHERE run_id = %s",
        (run.id,),
    )
    assert rows == [("", "created_offer", True, len(treated), 5, len(held), 2)]

    final = sched_world.run(run.id)
    page = parse(Path(final.run_dir or "") / "report.html")
    assert page.texts["impact-status"].startswith("window closed at")
    [header, row] = page.rows("impact-table")
    assert row[:4] == ["hello", "all", "created_offer (1h)", f"5 / {len(treated)}"]
    assert row[6] == f"2 / {len(held)}"

    # a job running again (a retried or duplicated cleanup job) measures nothing more: the run is measured
    ctx = PhaseContext(settings=sched_world.settings, worker="test", clock=Clock(t + 2 * WITHIN))
    assert advance(ctx, run.id) is None


def test_a_failed_measurement_never_fails_the_run_and_is_tried_again(
    sched_world: SchedWorld, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _project(sched_world, "a_retry", "retry")
    users = sched_world.add_cohort("retry", USERS)
    t = _t_soon()
    run = sched_world.create_run("a_retry", t)
    clock = Clock(t - seconds(60))
    ctx = PhaseContext(settings=sched_world.settings, worker="test", clock=clock, sleep=clock.sleep)
    step = advance(ctx, run.id)
    while isinstance(step, Next) and sched_world.run(run.id).status is not AutomationRunStatus.CLEANED:
        clock.now = max(clock.now, step.at)
        step = advance(ctx, run.id)
    assert isinstance(step, Next) and step.at == t + WITHIN  # cleaned; the measurement waits for the window
    treated, held = _sent_and_converted(sched_world, users)

    def broken(*_: object, **__: object) -> None:
        raise EngineError("the app database does not answer")

    monkeypatch.setattr(phases.api, "impact", broken)
    clock.now = step.at
    with caplog.at_level(logging.ERROR, logger="engine.scheduler"):
        again = advance(ctx, run.id)
    assert isinstance(again, Next) and again.at == clock.now + MEASURE_RETRY
    assert any("impact not measured: the app database does not answer" in r.getMessage() for r in caplog.records)
    assert sched_world.run(run.id).status is AutomationRunStatus.CLEANED  # untouched
    assert sched_world.query_all("SELECT 1 FROM engine.impact WHERE run_id = %s", (run.id,)) == []

    # failing again 15 min later: the next try waits as long as it has been since the window closed (15 min, then
    # 30 min, ...), so a broken measurement is not retried every few minutes for a week
    clock.now = again.at
    later = advance(ctx, run.id)
    assert isinstance(later, Next) and later.at == clock.now + MEASURE_RETRY
    clock.now = later.at
    third = advance(ctx, run.id)
    assert isinstance(third, Next) and third.at == clock.now + 2 * MEASURE_RETRY

    monkeypatch.undo()
    clock.now = third.at
    assert advance(ctx, run.id) is None
    rows = sched_world.query_all(
        "SELECT treated, treated_converted, held_out, held_out_converted FROM engine.impact"
        " WHERE run_id = %s AND variant = '' AND window_closed",
        (run.id,),
    )
    assert rows == [(len(treated), 5, len(held), 2)]
