"""An automation run's phases in-process on an injected clock: order and times, frozen files,
cancel, pause/resume, max_audience_size, empty audience, missed-run policies, --automation vars.
Real PostgreSQL and the fake FCM server; pushes are counted where they arrive."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest
from click.testing import CliRunner

from engine import api
from engine.automations.planner import plan_runs
from engine.automations.timeline import LIVE_EARLY
from engine.cli.main import cli
from engine.errors import StateError
from engine.scheduler.phases import Fanout, PhaseContext, advance
from engine.schedules.loader import load_schedules
from engine.state.model import AutomationRunStatus, RunKind
from tests.scheduler.world import (  # noqa: F401
    FOUNDER_TOKEN,
    Clock,
    SchedWorld,
    automation_yaml,
    drive,
    sched_db,
    sched_world,
    seconds,
    utc,
)

T = utc(2026, 11, 30, 9, 0)
FULL = ["scheduled", "generating", "generated", "testing", "tested", "window", "sending", "sent", "cleaned"]


def statuses(world: SchedWorld, run_id: str) -> list[str]:
    return [s for s, _ in world.history(run_id)]


def test_phases_run_in_order_at_their_times_and_send_each_user_once(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_order", "order"))
    users = sched_world.add_cohort("order", 3)
    run = sched_world.create_run("a_order", T)
    seen: list[tuple[str, object]] = []
    clock = Clock(T - seconds(60))
    phases = drive(sched_world, run.id, clock, before=lambda phase, now: seen.append((phase, now)))
    # lead {generate: 6s, test: 4s}: generate at T-6s, TEST at T-4s, the live job LIVE_EARLY before T (it sets up
    # and waits for T), cleanup right after
    assert seen[:3] == [("generate", T - seconds(6)), ("test", T - seconds(4)), ("live", T - LIVE_EARLY)]
    assert phases == ["generate", "test", "live", "cleanup"]
    assert statuses(sched_world, run.id) == FULL
    final = sched_world.run(run.id)
    assert (final.status, final.audience_size, final.sent, final.failed) == (AutomationRunStatus.CLEANED, 3, 3, 0)
    assert sched_world.received(users) == [1, 1, 1]
    assert sched_world.fcm.accepted()[FOUNDER_TOKEN] == 1  # one TEST push, to the test user only
    # running the finished run again does nothing (no second push)
    assert drive(sched_world, run.id, clock) == []
    assert sched_world.received(users) == [1, 1, 1]


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_a_cancel_or_pause_while_the_live_job_waits_for_t_stops_the_send(sched_world: SchedWorld, action: str) -> None:
    """The live job starts before T, sets up and waits: what an operator does meanwhile still wins, until T."""
    sched_world.write_automations(automation_yaml(f"a_wait_{action}", f"wait{action}"))
    users = sched_world.add_cohort(f"wait{action}", 2)
    run = sched_world.create_run(f"a_wait_{action}", T)
    clock = Clock(T - seconds(60))
    waited: list[float] = []

    def operator_acts(wait: float) -> None:  # during the live job's wait for T
        waited.append(wait)
        if action == "cancel":
            assert api.cancel_run(sched_world.settings, run.id, reason="wrong copy").changed
        else:
            assert api.pause_automation(sched_world.settings, f"a_wait_{action}", reason="holiday").changed
        clock.sleep(wait)

    ctx = PhaseContext(settings=sched_world.settings, worker="test", clock=clock, sleep=operator_acts)
    while (step := advance(ctx, run.id)) is not None:
        assert not isinstance(step, Fanout)
        clock.now = max(clock.now, step.at)
    final = sched_world.run(run.id)
    assert waited == [LIVE_EARLY.total_seconds()]
    assert sched_world.received(users) == [0, 0]
    if action == "cancel":
        assert final.status is AutomationRunStatus.CANCELLED
    else:
        assert (final.status, final.reason) == (AutomationRunStatus.SKIPPED, "automation paused: holiday")
    assert "sending" not in statuses(sched_world, run.id)


def test_the_live_send_reads_the_frozen_files_only(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_frozen", "frozen"))
    users = sched_world.add_cohort("frozen", 2)
    run = sched_world.create_run("a_frozen", T)

    def tamper(phase: str, _now: object) -> None:
        if phase == "live":  # someone rewrites the frozen CSV during the window
            frozen = sched_world.run(run.id)
            [name] = [n for n in frozen.frozen if "TEST" not in n]
            path = sched_world.settings.output_dir.parent / "x"  # noqa: F841  (for clarity of the next line)
            target = __import__("pathlib").Path(frozen.run_dir) / name
            target.write_text(target.read_text() + "\r\n", encoding="utf-8")

    drive(sched_world, run.id, Clock(T - seconds(60)), before=tamper)
    final = sched_world.run(run.id)
    assert final.status is AutomationRunStatus.FAILED and "not the file generate froze" in (final.reason or "")
    assert sched_world.received(users) == [0, 0]


def test_cancel_in_the_window_stops_the_live_send_and_is_refused_after_it(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_cancel", "cancel"))
    users = sched_world.add_cohort("cancel", 2)
    run = sched_world.create_run("a_cancel", T)

    def cancel_in_window(phase: str, _now: object) -> None:
        if phase == "live":
            assert sched_world.run(run.id).status is AutomationRunStatus.WINDOW
            assert api.cancel_run(sched_world.settings, run.id, reason="wrong copy").changed

    drive(sched_world, run.id, Clock(T - seconds(60)), before=cancel_in_window)
    assert sched_world.run(run.id).status is AutomationRunStatus.CANCELLED
    assert sched_world.received(users) == [0, 0]
    assert sched_world.fcm.accepted()[FOUNDER_TOKEN] >= 1  # the TEST push had gone out

    sent = sched_world.create_run("a_cancel", T + timedelta(days=1))
    drive(sched_world, sent.id, Clock(T + timedelta(days=1) - seconds(60)))
    with pytest.raises(StateError, match="can no longer be cancelled: it is cleaned"):
        api.cancel_run(sched_world.settings, sent.id)
    refused = CliRunner().invoke(cli, ["cancel", sent.id], env=sched_world.env())
    assert refused.exit_code == 1 and "can no longer be cancelled" in refused.output
    assert sched_world.received(users) == [1, 1]


def test_pause_skips_runs_until_resume(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_pause", "pause"))
    users = sched_world.add_cohort("pause", 2)
    assert api.pause_automation(sched_world.settings, "a_pause", reason="holiday").changed
    run = sched_world.create_run("a_pause", T)
    drive(sched_world, run.id, Clock(T - seconds(60)))
    paused = sched_world.run(run.id)
    assert paused.status is AutomationRunStatus.SKIPPED and paused.reason == "automation paused: holiday"
    with pytest.raises(StateError, match="is paused"):
        api.trigger_automation(sched_world.settings, "a_pause", now=T)
    assert api.resume_automation(sched_world.settings, "a_pause").changed
    again = sched_world.create_run("a_pause", T + timedelta(days=1))
    drive(sched_world, again.id, Clock(T + timedelta(days=1) - seconds(60)))
    assert sched_world.run(again.id).status is AutomationRunStatus.CLEANED
    assert sched_world.received(users) == [1, 1]
    status = {a.automation_id: a for a in api.scheduler_status(sched_world.settings, now=T).automations}
    assert status["a_pause"].paused is False and [r.status for r in status["a_pause"].recent] == [
        AutomationRunStatus.CLEANED,
        AutomationRunStatus.SKIPPED,
    ]


def test_max_audience_size_blocks_the_live_send(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_max", "max", extra="    max_audience_size: 2\n"))
    users = sched_world.add_cohort("max", 3)
    run = sched_world.create_run("a_max", T)
    drive(sched_world, run.id, Clock(T - seconds(60)))
    blocked = sched_world.run(run.id)
    assert blocked.status is AutomationRunStatus.BLOCKED and "over max_audience_size 2" in (blocked.reason or "")
    assert sched_world.received(users) == [0, 0, 0]


def test_an_empty_audience_is_recorded_and_sends_nothing(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_empty", "nobody"))
    run = sched_world.create_run("a_empty", T)
    drive(sched_world, run.id, Clock(T - seconds(60)))
    final = sched_world.run(run.id)
    assert (final.status, final.audience_size, final.sent) == (AutomationRunStatus.CLEANED, 0, 0)
    assert "empty audience: nothing sent" in [d for s, d in _details(sched_world, run.id) if s == "sent"]
    assert sum(sched_world.fcm.accepted().values()) <= 1  # at most the founder's TEST push


def _details(world: SchedWorld, run_id: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(world.dsn) as conn:
        return conn.execute(
            "SELECT status, detail FROM engine.automation_run_phases WHERE run_id = %s ORDER BY id", (run_id,)
        ).fetchall()


def test_missed_runs_skip_or_go_late_within_the_grace(sched_world: SchedWorld) -> None:
    sched_world.write_automations(
        automation_yaml("a_skip", "skip"),
        automation_yaml("a_late", "late", extra="    missed: {policy: late, grace: 10m}\n"),
    )
    skip_users = sched_world.add_cohort("skip", 2)
    late_users = sched_world.add_cohort("late", 2)
    with psycopg.connect(sched_world.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO engine.automation_controls (automation_id, first_seen_at) VALUES "
            "('a_skip', %s), ('a_late', %s)",
            (T - timedelta(days=2), T - timedelta(days=2)),
        )
        # every replica was down from before 08:59:54 (T-6s) until 09:05
        now = T + timedelta(minutes=5)
        waiting = plan_runs(conn, load_schedules(sched_world.project), now)
        assert plan_runs(conn, load_schedules(sched_world.project), now) == waiting  # nothing planned twice
        rows = conn.execute(
            "SELECT automation_id, send_at, status, reason FROM engine.automation_runs "
            "WHERE automation_id IN ('a_skip', 'a_late') ORDER BY automation_id, send_at"
        ).fetchall()
    # today's 09:00 only (yesterday's is 24h05 ago, past the one-day look-back): skip records it as
    # skipped (09:05 is past T + 1 min on time); late still sends it (5 min after T, grace 10 min)
    assert [(a, s, st) for a, s, st, _ in rows] == [("a_late", T, "scheduled"), ("a_skip", T, "skipped")]
    assert all(
        r[3].startswith("missed: generate was due 08:59:54 UTC, and no scheduler planned this automation before")
        for r in rows
        if r[2] == "skipped"
    )
    [late] = [w for w in waiting if sched_world.run(w.run_id).automation_id == "a_late"]
    assert (late.phase.value, late.at) == ("generate", now)  # the whole timeline moved 5 min 6 s later, not compressed
    drive(sched_world, late.run_id, Clock(now))
    assert sched_world.run(late.run_id).status is AutomationRunStatus.CLEANED
    assert sched_world.received(late_users) == [1, 1] and sched_world.received(skip_users) == [0, 0]
    # a phase that only gets to run after the grace is skipped, never sent in a burst
    stale = sched_world.create_run("a_late", T + timedelta(days=1), kind=RunKind.SCHEDULED)
    drive(sched_world, stale.id, Clock(T + timedelta(days=1, minutes=11)))
    stale_run = sched_world.run(stale.id)
    assert stale_run.status is AutomationRunStatus.SKIPPED and (stale_run.reason or "").startswith("missed:")
    assert sched_world.received(late_users) == [1, 1]


def test_run_automation_passes_its_vars_to_the_sql(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_vars", "vars"))
    sched_world.add_cohort("vars", 4)
    result = CliRunner().invoke(
        cli, ["--json", "run", "--automation", "a_vars", "--as-of", T.isoformat()], env=sched_world.env()
    )
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)["runs"]
    # the audience's default cohort "none" matches nobody: 4 rows means vars.cohort reached the SQL
    assert [o["rows"] for o in run["outputs"] if not o["is_test"]] == [4]
    assert run["params"]["cohort"] == "vars"


def test_a_large_live_send_is_split_into_shard_jobs_and_joined(sched_world: SchedWorld) -> None:
    sharded = replace(sched_world, settings=replace(sched_world.settings, send_shards=3, send_shard_rows=2))
    sharded.write_automations(automation_yaml("a_shards", "shards"))
    users = sharded.add_cohort("shards", 5)
    run = sharded.create_run("a_shards", T)
    phases = drive(sharded, run.id, Clock(T - seconds(60)))
    # 5 pushes at 2 a shard, at most 3 shards: ceil(5 / 2) = 3 shard jobs, then the live phase joins them
    assert phases == ["generate", "test", "live", "shard 1/3", "shard 2/3", "shard 3/3", "cleanup"]
    final = sharded.run(run.id)
    assert (final.status, final.sent, final.failed) == (AutomationRunStatus.CLEANED, 5, 0)
    assert sharded.received(users) == [1] * 5
    assert sharded.query_one(
        "SELECT shards, status FROM engine.sends WHERE send_id = %s", (f"{run.id}:hello:live",)
    ) == (3, "completed")


def test_shard_jobs_that_never_ran_are_sent_whole_by_the_live_phase(sched_world: SchedWorld) -> None:
    """A worker that dies between planning the shards and queueing them: the live job's retry sends it all."""
    sharded = replace(sched_world, settings=replace(sched_world.settings, send_shards=2, send_shard_rows=1))
    sharded.write_automations(automation_yaml("a_lost_shards", "lost"))
    users = sharded.add_cohort("lost", 4)
    run = sharded.create_run("a_lost_shards", T)
    ctx = PhaseContext(settings=sharded.settings, worker="test", clock=Clock(T))
    advance(ctx, run.id), advance(ctx, run.id)  # generate, test
    fanout = advance(ctx, run.id)  # live: planned and split, shard jobs "lost"
    assert isinstance(fanout, Fanout) and len(fanout.shards) == 2
    assert sharded.received(users) == [0] * 4  # planning sends nothing
    advance(ctx, run.id)  # the live job again
    assert sharded.run(run.id).status is AutomationRunStatus.SENT and sharded.received(users) == [1] * 4
    assert sharded.query_one(
        "SELECT shards, status FROM engine.sends WHERE send_id = %s", (f"{run.id}:hello:live",)
    ) == (None, "completed")  # never split after all
