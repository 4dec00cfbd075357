"""Real `engine scheduler` replicas split a large live send into shard jobs (ENGINE_SEND_SHARDS) that run in
parallel through the job queue, then join them: every push once, counted at the fake FCM server."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from engine.automations.model import RunStatus
from engine.delivery.fake_fcm import FakeFcmServer
from tests.scheduler.test_replicas import LATE, final, trigger_at, wait_for
from tests.scheduler.world import SchedWorld, automation_yaml, make_world, sched_db, seconds  # noqa: F401

USERS = 90
SHARD_ROWS = 30          # 90 pushes at 30 a shard: 3 shard jobs


@pytest.fixture
def replicas(sched_db: str, tmp_path: Path) -> Iterator[tuple[SchedWorld, dict[str, subprocess.Popen[bytes]]]]:
    with FakeFcmServer() as fcm:
        world = make_world(sched_db, tmp_path, fcm)
        env = {**world.env(), "ENGINE_SEND_SHARDS": "4", "ENGINE_SEND_SHARD_ROWS": str(SHARD_ROWS)}
        procs = {}
        for name in ("s1", "s2"):
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115  (closed with the process)
            procs[name] = subprocess.Popen(world.engine("scheduler", "--name", name, "--heartbeat", "0.5",
                                                        "--stalled-after", "2", "--concurrency", "2"),
                                           env=env, stdout=log, stderr=log)
        yield world, procs
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_replicas_send_a_large_live_send_as_shard_jobs_each_push_once(
        replicas: tuple[SchedWorld, dict[str, subprocess.Popen[bytes]]]) -> None:
    world, procs = replicas
    world.write_automations(automation_yaml("a_sharded", "sharded", extra=LATE))
    users = world.add_cohort("sharded", USERS)
    world.fcm.slow(0.01)
    run_id = trigger_at(world, "a_sharded", datetime.now(timezone.utc).replace(microsecond=0) + seconds(8))
    wait_for(lambda: final(world, [run_id]), 150, "the run to finish", procs)
    run = world.run(run_id)
    assert (run.status, run.sent, run.failed) == (RunStatus.CLEANED, USERS, 0), run.reason
    assert world.received(users) == [1] * USERS
    assert world.query_one("SELECT shards, status FROM engine.sends WHERE send_id = %s",
                           (f"{run_id}:hello:live",)) == (3, "completed")
    shards = []
    for log in sorted(world.project.parent.glob("s*.log")):
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.startswith("{") and json.loads(line).get("msg") == "shard sent":
                shards.append(json.loads(line))
    # each of the 3 shards ran as its own job once, and together they sent everyone
    assert sorted(entry["shard"] for entry in shards) == ["1/3", "2/3", "3/3"], shards
    assert sum(entry["sent_now"] for entry in shards) == USERS
