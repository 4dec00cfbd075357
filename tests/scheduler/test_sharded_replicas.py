"""Real `engine scheduler` replicas split a large live send into shard jobs (ENGINE_SEND_SHARDS) that run in
parallel through the job queue, then join them: every push once, counted at the fake FCM server, also when the
replica sending a shard is killed (kill -9): the other one finishes the send (the live phase sends what is left
whole once no shard is sending, or the handed-back shard job resumes its range, whichever comes first)."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pytest

from engine.demo.fake_fcm import FakeFcmServer
from engine.state.model import AutomationRunStatus
from tests.scheduler.test_replicas import LATE, final, start_replica, stop_replicas, trigger_at, wait_for
from tests.scheduler.world import SchedWorld, automation_yaml, make_world, sched_db, seconds  # noqa: F401

USERS = 90
SHARD_ROWS = 30  # 90 pushes at 30 a shard: 3 shard jobs


@pytest.fixture
def replicas(
    sched_db: str, tmp_path: Path, source_role: Callable[..., str]
) -> Iterator[tuple[SchedWorld, dict[str, subprocess.Popen[bytes]]]]:
    with FakeFcmServer() as fcm:
        world = make_world(sched_db, tmp_path, fcm, source_role(sched_db))
        env = {**world.env(), "ENGINE_SEND_SHARDS": "4", "ENGINE_SEND_SHARD_ROWS": str(SHARD_ROWS)}
        procs = {name: start_replica(world, name, tmp_path, env) for name in ("s1", "s2")}  # <tmp_path>/s1.log
        yield world, procs
        stop_replicas(procs)


def test_replicas_send_a_large_live_send_as_shard_jobs_each_push_once(
    replicas: tuple[SchedWorld, dict[str, subprocess.Popen[bytes]]],
) -> None:
    world, procs = replicas
    world.write_automations(automation_yaml("a_sharded", "sharded", extra=LATE))
    users = world.add_cohort("sharded", USERS)
    world.fcm.slow(0.01)
    run_id = trigger_at(world, "a_sharded", datetime.now(timezone.utc).replace(microsecond=0) + seconds(8))
    wait_for(lambda: final(world, [run_id]), 150, "the run to finish", procs)
    run = world.run(run_id)
    assert (run.status, run.sent, run.failed) == (AutomationRunStatus.CLEANED, USERS, 0), run.reason
    assert world.received(users) == [1] * USERS
    assert world.query_one("SELECT shards, status FROM engine.sends WHERE send_id = %s", (f"{run_id}:hello:live",)) == (
        3,
        "completed",
    )
    shards = [entry for _, entry in log_entries(world, "shard sent")]
    # The live phase runs again when a shard job ends and, once no shard is sending, sends what is left whole:
    # on a busy machine it can pass before the other shard jobs start (they then find the run sent and stop).
    # So: at least the first shard to end ran as its own job and sent exactly its range; no shard ran twice;
    # a shard job sends its whole range or nothing (started after the live phase finished it); the fake FCM
    # counts every push once (above).
    labels = [entry["shard"] for entry in shards]
    assert shards and len(labels) == len(set(labels)) and set(labels) <= {"1/3", "2/3", "3/3"}, shards
    assert all(entry["sent_now"] in (0, SHARD_ROWS) for entry in shards), shards
    assert any(entry["sent_now"] == SHARD_ROWS for entry in shards), shards


def log_entries(world: SchedWorld, message: str) -> list[tuple[str, dict[str, object]]]:
    """(replica, entry) of every JSON log line with ``message``, from both replicas' logs."""
    found = []
    for log in sorted(world.project.parent.glob("s*.log")):
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.startswith("{") and json.loads(line).get("msg") == message:
                found.append((log.stem, json.loads(line)))
    return found


def test_kill_9_of_the_replica_sending_a_shard_loses_nothing_and_sends_nothing_twice(
    replicas: tuple[SchedWorld, dict[str, subprocess.Popen[bytes]]],
) -> None:
    world, procs = replicas
    world.write_automations(automation_yaml("a_shard_kill", "shardkill", extra=LATE))
    users = world.add_cohort("shardkill", USERS)
    world.fcm.slow(0.05)  # 30 pushes a shard, 4 in flight at 50 ms each: ~0.4 s per shard, long enough to kill
    run_id = trigger_at(world, "a_shard_kill", datetime.now(timezone.utc).replace(microsecond=0) + seconds(8))
    deadline = time.monotonic() + 90
    while not (started := log_entries(world, "shard started")):
        assert time.monotonic() < deadline, "no shard ever started"
        time.sleep(0.02)
    victim = started[0][0]
    procs[victim].kill()  # mid-shard: its job's heartbeat stops, the other replica hands it back
    procs[victim].wait()
    survivors = {name: proc for name, proc in procs.items() if name != victim}
    wait_for(lambda: final(world, [run_id]), 150, "the run to finish", survivors)
    run = world.run(run_id)
    assert run.status is AutomationRunStatus.CLEANED, run.reason
    received = world.received(users)
    assert max(received) == 1, "a push went out twice"
    [(in_doubt,)] = world.query_all(
        "SELECT count(*) FROM engine.send_items WHERE send_id = %s AND reason = %s",
        (f"{run_id}:hello:live", "IN_FLIGHT_UNKNOWN"),
    )
    # everyone got the push, except at most the pushes the killed replica had in flight (in doubt, not resent)
    assert received.count(0) <= in_doubt and run.sent == USERS - in_doubt
