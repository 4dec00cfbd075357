"""A real takeover moves the stalled-job metric where an operator reads it (issue 24, finding 5).

Three `engine scheduler` replicas, each serving /metrics. The replica running a run's generate phase
(its query sleeps) is killed with -9; another hands the job back and the run finishes. "Recovered"
counts a job handed back, once, by the replica that handed it back
(``engine_stalled_jobs_recovered_total``, that process's counter), and the hand-back is recorded in the
state database, so every replica's /metrics shows the total (``engine_state_stalled_jobs_recovered_total``),
whichever of them took it over or ran it afterwards.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import uuid
from datetime import datetime, timezone
from typing import Callable, Iterator

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.demo.fake_fcm import FakeFcmServer
from engine.scheduler.runner import make_app
from engine.state import queued_jobs
from engine.state.model import AutomationRunStatus
from tests.scheduler.test_replicas import LATE, final, holder, stop_replicas, trigger_at, wait_for
from tests.scheduler.world import SchedWorld, automation_yaml, make_world, sched_db, seconds  # noqa: F401


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scrape(port: int) -> dict[str, float]:
    """The unlabelled samples of a replica's /metrics, read over HTTP."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


@pytest.fixture
def world(
    sched_db: str, tmp_path_factory: pytest.TempPathFactory, source_role: Callable[..., str]
) -> Iterator[SchedWorld]:
    with FakeFcmServer() as fcm:
        yield make_world(sched_db, tmp_path_factory.mktemp("stalled"), fcm, source_role(sched_db))


def test_kill_9_mid_phase_moves_the_stalled_job_metric_on_every_replica(world: SchedWorld) -> None:
    users = world.add_cohort("stalled", 3)
    world.write_automations(automation_yaml("a_stalled", "stalled", pause_s=4, extra=LATE))
    ports = {f"s{i}": _free_port() for i in range(1, 4)}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, port in ports.items():
        log = open(world.project.parent / f"{name}.log", "wb")
        procs[name] = subprocess.Popen(
            world.engine(
                "scheduler",
                *("--name", name, "--heartbeat", "0.5", "--stalled-after", "3", "--concurrency", "2"),
                *("--serve-port", str(port)),
            ),
            env=world.env(),
            stdout=log,
            stderr=log,
        )
    try:
        for name, port in ports.items():
            wait_for(lambda port=port: _ready(port), 60, f"{name}'s /readyz", procs)  # type: ignore[misc]
        # the module's database may already hold hand-backs (xdist can run this module's other tests first)
        [(known, last_id)] = world.query_all("SELECT count(*), coalesce(max(id), 0) FROM engine.stalled_jobs")
        before = {name: scrape(port) for name, port in ports.items()}
        assert all(m.get("engine_state_stalled_jobs_recovered_total") == known for m in before.values()), before
        assert all(m.get("engine_stalled_jobs_recovered_total") == 0 for m in before.values()), before
        run_id = trigger_at(world, "a_stalled", datetime.now(timezone.utc).replace(microsecond=0) + seconds(8))
        wait_for(lambda: holder(world, run_id, "generating") is not None, 30, "generating", procs)
        victim = holder(world, run_id, "generating")
        assert victim in procs
        procs[victim].kill()
        procs[victim].wait()
        wait_for(lambda: final(world, [run_id]), 90, "the run to finish", procs)
        run = world.run(run_id)
        assert run.status is AutomationRunStatus.CLEANED, (run.status, run.reason)
        assert world.received(users) == [1, 1, 1]

        after = {name: scrape(port) for name, port in ports.items() if name != victim}
        handed = world.query_all("SELECT run_id, task FROM engine.stalled_jobs WHERE id > %s ORDER BY id", (last_id,))
        # the dead replica's generate job was handed back, once. On a loaded machine a live replica's heartbeat
        # can also fall silent past --stalled-after, and its job is handed back too: counted the same way.
        assert handed.count((run_id, "engine:generate")) == 1, handed
        # each hand-back counted once, by the replica whose tick made it (only survivors made any) ...
        assert sum(m["engine_stalled_jobs_recovered_total"] for m in after.values()) == len(handed), (after, handed)
        # ... and the total visible on every replica, whichever one an operator reads
        assert all(m["engine_state_stalled_jobs_recovered_total"] == known + len(handed) for m in after.values()), after
    finally:
        stop_replicas(procs)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


QUEUE_OF_TEST = "engine-test-stalled"  # the phase jobs of a scheduler, on a queue no replica takes


async def _running_job(world: SchedWorld, run_id: str, *, waiting_twin: bool) -> tuple[int, int]:
    """A generate job of ``run_id`` taken by a (then dead) worker: (job id, worker id); with ``waiting_twin``
    the planner's next job for the same phase already waits, as it does on every tick."""
    app = make_app(world.settings)
    task = app.configure_task("engine:generate", queue=QUEUE_OF_TEST, lock=run_id, queueing_lock=f"{run_id}:generate")
    async with app.open_async():
        worker = await app.job_manager.register_worker()
        await task.defer_async(run_id=run_id)
        job = await app.job_manager.fetch_job([QUEUE_OF_TEST], worker)
        assert job is not None and job.id is not None and (job.task_kwargs or {}).get("run_id") == run_id
        if waiting_twin:
            await task.defer_async(run_id=run_id)
        return job.id, worker


@pytest.mark.parametrize("waiting_twin", [False, True], ids=["retried", "superseded"])
def test_a_stalled_job_is_handed_back_and_counted_once(world: SchedWorld, waiting_twin: bool) -> None:
    run_id = str(uuid.uuid4())
    job_id, worker = asyncio.run(_running_job(world, run_id, waiting_twin=waiting_twin))
    with psycopg.connect(world.dsn, autocommit=True) as conn:
        before = queued_jobs.handed_back(conn)
        how = queued_jobs.hand_back(conn, job_id, worker, task="engine:generate", run_id=run_id, by="r1")
        # a second replica reading the same stalled job a moment later finds it handed back: not counted again,
        # and the job (queued again, or superseded) is left as it is, never closed as failed by a late hand-back
        assert queued_jobs.hand_back(conn, job_id, worker, task="engine:generate", run_id=run_id, by="r2") is None
        assert queued_jobs.handed_back(conn) == before + 1
        statuses = conn.execute(
            "SELECT id, status FROM procrastinate_jobs WHERE queueing_lock = %s ORDER BY id", (f"{run_id}:generate",)
        ).fetchall()
        queued_jobs.cancel_waiting(conn, run_id)  # no other test's worker should take this run's job
    if waiting_twin:
        assert how is queued_jobs.HandBack.SUPERSEDED, statuses
        assert [s for _, s in statuses] == ["failed", "todo"]  # the waiting job takes over the run
    else:
        assert how is queued_jobs.HandBack.RETRIED
        assert statuses == [(job_id, "todo")]
