"""Automation run ids are accepted as the page and `engine status` show them: the first 8 characters or more.
An ambiguous prefix is a usage error (exit 2) that lists the candidates; a shorter one is refused."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from click.testing import CliRunner

from engine import api
from engine.automations.timeline import Phase
from engine.cli.main import cli
from engine.scheduler.jobs import defer_phase
from engine.scheduler.runner import make_app
from engine.state.model import AutomationRunStatus
from engine.timeutil import utcnow
from tests.scheduler.world import SchedWorld, automation_yaml, sched_db, sched_world, utc  # noqa: F401

T = utc(2026, 12, 1, 9, 0)
TWINS = ("abcdef01-0000-4000-8000-000000000001", "abcdef01-1111-4000-8000-000000000002")


def test_cancel_by_the_8_character_id_the_page_shows(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_prefix", "prefix"))
    run = sched_world.create_run("a_prefix", T)
    result = CliRunner().invoke(cli, ["cancel", run.id[:8]], env=sched_world.env())
    assert result.exit_code == 0, result.output
    assert f"run {run.id} " in result.output and "cancelled" in result.output
    assert sched_world.run(run.id).status is AutomationRunStatus.CANCELLED


def test_an_ambiguous_prefix_exits_2_listing_the_candidates(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_twins", "twins"))
    for i, run_id in enumerate(TWINS):  # two runs whose ids share their first 8 characters
        sched_world.query_one(
            "INSERT INTO engine.automation_runs (id, automation_id, send_at, kind, status) "
            "VALUES (%s, 'a_twins', %s, 'triggered', 'scheduled') RETURNING id",
            (run_id, utc(2026, 12, 2 + i, 9, 0)),
        )
    result = CliRunner().invoke(cli, ["cancel", "ABCDEF01"], env=sched_world.env())
    assert result.exit_code == 2
    assert "matches more than one automation run" in result.output
    assert all(run_id in result.output for run_id in TWINS)
    assert [sched_world.run(r).status for r in TWINS] == [AutomationRunStatus.SCHEDULED] * 2
    longer = CliRunner().invoke(cli, ["cancel", TWINS[1][:10]], env=sched_world.env())
    assert longer.exit_code == 0, longer.output
    assert sched_world.run(TWINS[1]).status is AutomationRunStatus.CANCELLED


def test_a_prefix_shorter_than_8_or_matching_nothing_exits_2(sched_world: SchedWorld) -> None:
    short = CliRunner().invoke(cli, ["cancel", "abcdef0"], env=sched_world.env())
    assert short.exit_code == 2 and "is not an automation run id" in short.output
    assert "first 8 characters" in short.output
    unknown = CliRunner().invoke(cli, ["cancel", "00000000"], env=sched_world.env())
    assert unknown.exit_code == 2 and "no automation run '00000000'" in unknown.output


def test_a_triggered_run_is_seen_by_status_and_plan_before_it_generates(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_seen", "seen"))
    at = (utcnow() + timedelta(hours=3)).replace(second=17, microsecond=0)  # off the cron's 09:00
    triggered = api.trigger_automation(sched_world.settings, "a_seen", test=False, at=at)
    runner = CliRunner()
    status = json.loads(runner.invoke(cli, ["--json", "status"], env=sched_world.env()).output)
    [seen] = [a for a in status["automations"] if a["automation"] == "a_seen"]
    assert [(r["id"], r["status"], r["kind"]) for r in seen["triggered"]] == [
        (triggered.run_id, "scheduled", "triggered")
    ]
    text = runner.invoke(cli, ["status"], env=sched_world.env()).output
    assert f"triggered: {triggered.run_id} (T {at:%Y-%m-%d %H:%M:%S} UTC)" in text
    plan = json.loads(runner.invoke(cli, ["--json", "plan", "--days", "1"], env=sched_world.env()).output)
    planned = [r for r in plan["runs"] if r["automation"] == "a_seen" and r["run_id"] == triggered.run_id]
    assert [r["send_at"] for r in planned] == [at.isoformat()]


def test_cancel_removes_the_runs_queued_phase_jobs(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_queued", "queued"))
    run = sched_world.create_run("a_queued", T)
    other = sched_world.create_run("a_queued", T + timedelta(days=1))

    async def queue_generate() -> None:  # what a replica's tick does: the phase job, held until its time
        app = make_app(sched_world.settings)
        async with app.open_async():
            for run_id in (run.id, other.id):
                await defer_phase(app, Phase.GENERATE, run_id, T - timedelta(minutes=30))

    asyncio.run(queue_generate())
    waiting = "SELECT count(*) FROM procrastinate_jobs WHERE lock = %s AND status = 'todo'"
    assert [sched_world.query_one(waiting, (r,)) for r in (run.id, other.id)] == [(1,), (1,)]
    result = CliRunner().invoke(cli, ["cancel", run.id[:8]], env=sched_world.env())
    assert result.exit_code == 0, result.output
    assert "1 queued job removed" in result.output
    # the run's job is cancelled (procrastinate keeps it as such), the other run's job still waits
    assert sched_world.query_one(waiting, (run.id,)) == (0,)
    assert sched_world.query_one(waiting, (other.id,)) == (1,)
