"""A run is frozen at generate and its times are fixed once planned (issue 24, findings 1-2), in-process on an
injected clock: an edit of schedules.yaml during the window changes nothing of the run (every live push carries
the frozen title; status says "definition changed since generate"); a cron or lead edit moves no planned run, and
a T that an edit gives after its generate time is handled by the missed policy with the true reason."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import psycopg
import pytest
from click.testing import CliRunner

from engine import api
from engine.automations.planner import plan_runs
from engine.automations.timeline import LIVE_EARLY
from engine.cli.main import cli
from engine.schedules.loader import load_schedules
from engine.state.model import AutomationRunStatus
from tests.scheduler.world import (  # noqa: F401
    FOUNDER_TOKEN,
    TEMPLATE,
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


def titles(world: SchedWorld, tokens: set[str]) -> list[str]:
    return sorted(r.message["notification"]["title"] for r in world.fcm.received() if r.token in tokens)


def test_an_edit_in_the_window_changes_nothing_of_the_run_and_status_shows_the_diff(
    sched_world: SchedWorld,
) -> None:
    sched_world.write_automations(automation_yaml("a_edit", "edit"))
    users = sched_world.add_cohort("edit", 2)
    run = sched_world.create_run("a_edit", T)
    shown: list[str] = []

    def edit(phase: str, now: object) -> None:
        if phase == "live":  # in the window, after the TEST send: the title, the vars and a limit change
            text = (sched_world.project / "schedules.yaml").read_text(encoding="utf-8")
            text = text.replace('title: "Hi [[var:firstName]]"', 'title: "EDITED [[var:firstName]]"')
            text = text.replace("vars: {cohort: edit,", "vars: {cohort: other,")
            (sched_world.project / "schedules.yaml").write_text(text + "    max_audience_size: 1\n", encoding="utf-8")
            result = CliRunner().invoke(cli, ["status"], env=sched_world.env())
            shown.append(result.output)

    drive(sched_world, run.id, Clock(T - seconds(60)), before=edit)
    final = sched_world.run(run.id)
    assert (final.status, final.sent) == (AutomationRunStatus.CLEANED, 2)  # max_audience_size 1 did not apply
    live_tokens = {sched_world.tokens[u] for u in users}
    assert titles(sched_world, live_tokens) == ["Hi edit-0", "Hi edit-1"]
    assert titles(sched_world, {FOUNDER_TOKEN}) == ["Hi Mbiyimoh"]  # the TEST push, to the test user
    frozen = {
        "audience": "cohort",
        "vars": {"cohort": "edit", "pause_s": 0},
        "pushes": [
            {
                "name": "hello",
                "title": "Hi [[var:firstName]]",
                "body": "Scheduled hello",
                "deep_link": None,
                "layer": 1,
                "audience": "cohort",
                "output": "everyone",
            }
        ],
        "cadence": None,
        "max_audience_size": None,
    }
    assert final.definition == frozen
    canonical = json.dumps(frozen, sort_keys=True, separators=(",", ":"))
    assert final.definition_hash == hashlib.sha256(canonical.encode()).hexdigest()
    [output] = shown
    assert "definition changed since generate" in output
    assert 'pushes[hello].title: "Hi [[var:firstName]]" -> "EDITED [[var:firstName]]"' in output
    assert 'vars.cohort: "edit" -> "other"' in output
    assert "max_audience_size: null -> 1" in output


def test_status_is_quiet_when_the_file_matches_what_generate_froze(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_same", "same"))
    sched_world.add_cohort("same", 1)
    run = sched_world.create_run("a_same", T)
    seen: list[tuple[str, ...]] = []

    def look(phase: str, now: object) -> None:
        if phase == "live":
            [status] = [
                a for a in api.scheduler_status(sched_world.settings, now=T).automations if a.automation_id == "a_same"
            ]
            seen.append(status.changed_since_generate)

    drive(sched_world, run.id, Clock(T - seconds(60)), before=look)
    assert seen == [()]


def test_planned_times_do_not_move_and_an_edit_gives_no_burst(sched_world: SchedWorld) -> None:
    schedules = sched_world.project / "schedules.yaml"
    sched_world.write_automations(automation_yaml("a_cron", "cron", cron="0 9 * * *"))
    users = sched_world.add_cohort("cron", 2)
    with psycopg.connect(sched_world.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO engine.automation_controls (automation_id, first_seen_at) VALUES ('a_cron', %s)",
            (T - timedelta(hours=1),),
        )
        plan_runs(conn, load_schedules(sched_world.project), T - seconds(30))  # a scheduler plans 09:00
        # the run is in its window (TEST was at T-4s) when the lead and the cron are edited: 09:01 with a
        # 3-minute lead, whose generate time (08:58:00) is long past
        sched_world.write_automations(
            automation_yaml("a_cron", "cron", cron="0,1 9 * * *", lead="{generate: 3m, test: 2m}")
        )
        waiting = plan_runs(conn, load_schedules(sched_world.project), T - seconds(3))
        rows = conn.execute(
            "SELECT send_at, status, reason, generate_at, test_at, live_at FROM engine.automation_runs "
            "WHERE automation_id = 'a_cron' ORDER BY send_at"
        ).fetchall()
    assert schedules.exists()
    [(t0, status0, _, gen0, test0, live0), (t1, status1, reason1, *_)] = rows
    # the planned run keeps its times (lead 6s/4s), not the edited 3m/2m
    assert (t0, status0, gen0, test0, live0) == (T, "scheduled", T - seconds(6), T - seconds(4), T)
    assert [(w.phase.value, w.at) for w in waiting] == [("generate", T - seconds(6))]
    # 09:01 was first seen at 08:59:57, past its generate time: skipped, and told why
    assert (t1, status1) == (T + timedelta(minutes=1), "skipped")
    assert reason1.startswith("missed: generate was due 08:58:00 UTC, but schedules.yaml gave this T (09:01:00 UTC)")
    assert "no scheduler" not in reason1
    assert sched_world.received(users) == [0, 0]


def test_an_outage_is_told_as_one_and_late_moves_the_whole_timeline(sched_world: SchedWorld) -> None:
    sched_world.write_automations(
        automation_yaml("a_down", "down"),
        automation_yaml("a_later", "later", extra="    missed: {policy: late, grace: 10m}\n"),
    )
    late_users = sched_world.add_cohort("later", 2)
    with psycopg.connect(sched_world.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO engine.automation_controls (automation_id, first_seen_at, planned_at) VALUES "
            "('a_down', %s, %s), ('a_later', %s, %s)",
            (T - timedelta(days=2), T - timedelta(minutes=20)) * 2,
        )
        plan_runs(conn, load_schedules(sched_world.project), T + timedelta(minutes=5))  # back at 09:05
        rows = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT automation_id, status, reason, generate_at, test_at, live_at FROM engine.automation_runs "
                "WHERE automation_id IN ('a_down', 'a_later')"
            ).fetchall()
        }
    status, reason, *_ = rows["a_down"]
    assert status == "skipped"
    assert reason == (
        "missed: generate was due 08:59:54 UTC, and no scheduler planned this automation since "
        "2026-11-30 08:40:00 until 09:05:00 UTC: its full window could not be kept (missed policy skip)"
    )
    # late: generate now (09:05), TEST 2 s later, live 6 s later (its job LIVE_EARLY before): the window kept in
    # full, 5 min late
    status, reason, generate_at, test_at, live_at = rows["a_later"]
    now = T + timedelta(minutes=5)
    assert (status, generate_at, test_at, live_at) == ("scheduled", now, now + seconds(2), now + seconds(6))
    assert reason.startswith("late: generate was due 08:59:54 UTC")
    seen: list[tuple[str, object]] = []
    [run_id] = [
        r[0]
        for r in sched_world.query_all("SELECT id::text FROM engine.automation_runs WHERE automation_id = 'a_later'")
    ]
    drive(sched_world, run_id, Clock(now), before=lambda phase, at: seen.append((phase, at)))
    assert seen[:2] == [("test", now + seconds(2)), ("live", now + seconds(6) - LIVE_EARLY)]  # generate: at once
    assert sched_world.received(late_users) == [1, 1]


def test_a_test_send_that_cannot_keep_its_window_is_skipped_not_compressed(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_slow", "slow"))
    users = sched_world.add_cohort("slow", 1)
    run = sched_world.create_run("a_slow", T)

    def stall(phase: str, now: object) -> None:
        if phase == "test":  # no worker took the TEST job until 70 s after it was due
            clock.now = T - seconds(4) + seconds(70)

    clock = Clock(T - seconds(60))
    drive(sched_world, run.id, clock, before=stall)
    final = sched_world.run(run.id)
    assert final.status is AutomationRunStatus.SKIPPED
    assert final.reason == (
        "missed: the TEST send was due 08:59:56 UTC and could start only at 09:01:06: the planned 4s "
        "cancellation window could not be kept (missed policy skip)"
    )
    assert sched_world.received(users) == [0]


OFFER = """\
  offer:
    audience: cohort
    output: everyone
    layer: 3
    title: "Offer for [[var:firstName]]"
    body: "A layer-3 push: the cooldown applies"
"""


@pytest.mark.parametrize(
    ("frozen", "edited", "reaches_recent"),
    [
        # frozen: a 12 h cooldown, so a layer-3 push 24 h ago does not block; the edit (48 h) would block it
        ("{layer_3_cooldown_hours: 12}", "{layer_3_cooldown_hours: 48}", True),
        # frozen: a 48 h cooldown blocks it; the edit (the rule disabled) would let it through
        ("{layer_3_cooldown_hours: 48}", "{layer_3_cooldown_hours: false}", False),
    ],
)
def test_the_live_send_applies_the_frozen_cadence_overrides(
    sched_world: SchedWorld, frozen: str, edited: str, reaches_recent: bool
) -> None:
    schedules = sched_world.project / "schedules.yaml"
    cohort = "cadallows" if reaches_recent else "cadblocks"
    entry = automation_yaml(f"a_{cohort}", cohort, extra=f"    cadence: {frozen}\n").replace("[hello]", "[offer]")
    schedules.write_text(TEMPLATE.replace("automations:\n", OFFER + "automations:\n") + entry, encoding="utf-8")
    recent, fresh = sched_world.add_cohort(cohort, 2)
    with psycopg.connect(sched_world.dsn, autocommit=True) as conn:  # one layer-3 push 24 h ago
        conn.execute(
            "INSERT INTO engine.user_notifications (user_id, layer_id, sent_at) "
            "VALUES (%s, 3, now() - interval '24 hours')",
            (recent,),
        )
    run = sched_world.create_run(f"a_{cohort}", T)

    def edit(phase: str, now: object) -> None:
        if phase == "live":  # in the window, after the TEST send
            schedules.write_text(schedules.read_text(encoding="utf-8").replace(frozen, edited), encoding="utf-8")

    drive(sched_world, run.id, Clock(T - seconds(60)), before=edit)
    final = sched_world.run(run.id)
    assert edited in schedules.read_text(encoding="utf-8")
    assert final.status is AutomationRunStatus.CLEANED
    assert final.definition is not None and final.definition["cadence"] == {
        "layer_3_cooldown_hours": 12 if reaches_recent else 48
    }
    assert sched_world.received([recent, fresh]) == [1 if reaches_recent else 0, 1]
    assert (final.sent, final.cadence_excluded) == ((2, 0) if reaches_recent else (1, 1))
