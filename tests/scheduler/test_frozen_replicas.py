"""Real `engine scheduler` replicas and the fake FCM (issue 24, finding 1): the push title edited in
schedules.yaml during the cancellation window does not reach the live send; every live push carries
the title the TEST push showed, and `engine status` says the definition changed since generate."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from typing import Iterator

import pytest

from tests.scheduler.test_replicas import start_replica, stop_replicas, trigger_at, wait_for
from tests.scheduler.world import (  # noqa: F401
    FOUNDER_TOKEN,
    SchedWorld,
    automation_yaml,
    sched_db,
    sched_world,
    seconds,
)


@pytest.fixture
def two_replicas(sched_world: SchedWorld) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    sched_world.write_automations()
    procs = {name: start_replica(sched_world, name, sched_world.project.parent) for name in ("f1", "f2")}
    yield procs
    stop_replicas(procs)


def test_a_title_edited_in_the_window_never_goes_live(
    sched_world: SchedWorld, two_replicas: dict[str, subprocess.Popen[bytes]]
) -> None:
    users = sched_world.add_cohort("frz", 5)
    lead = "{generate: 8s, test: 6s}"
    sched_world.write_automations(automation_yaml("a_frz", "frz", lead=lead))
    run_id = trigger_at(sched_world, "a_frz", datetime.now(timezone.utc).replace(microsecond=0) + seconds(14))
    wait_for(lambda: sched_world.run(run_id).status.value == "window", 40, "the window", two_replicas)
    schedules = sched_world.project / "schedules.yaml"
    schedules.write_text(
        schedules.read_text(encoding="utf-8").replace("Hi [[var:firstName]]", "EDITED [[var:firstName]]"),
        encoding="utf-8",
    )
    status = subprocess.run(sched_world.engine("status"), env=sched_world.env(), capture_output=True, text=True)
    wait_for(lambda: sched_world.run(run_id).status.final, 60, "the run to finish", two_replicas)

    run = sched_world.run(run_id)
    assert run.status.value == "cleaned", (run.status, run.reason)
    assert "definition changed since generate" in status.stdout, status.stdout + status.stderr
    assert 'pushes[hello].title: "Hi [[var:firstName]]" -> "EDITED [[var:firstName]]"' in status.stdout
    live = {sched_world.tokens[u] for u in users}
    titles = sorted(r.message["notification"]["title"] for r in sched_world.fcm.received() if r.token in live)
    assert titles == [f"Hi frz-{i}" for i in range(5)]
    tested = [r.message["notification"]["title"] for r in sched_world.fcm.received() if r.token == FOUNDER_TOKEN]
    assert tested == ["Hi Mbiyimoh"]
