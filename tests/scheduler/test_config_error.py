"""A broken schedules.yaml under a real replica: the last good definition keeps running (a run is still
planned and sent), the located error shows in `engine status`, the page and `engine_config_error`, one
alert reaches the webhook per change, no traceback; fixing the file clears all of it."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from datetime import datetime, timezone
from typing import Callable

import httpx

from tests.scheduler.test_alerts import Webhook
from tests.scheduler.test_serve_page import _free_port
from tests.scheduler.world import SchedWorld, automation_yaml, sched_db, sched_world  # noqa: F401

EVERY_MINUTE = automation_yaml("minutely", "cfg", cron="* * * * *")
# line 12 of the file written below (TEMPLATE is 9 lines, then id, audience, schedule), column 23: the cron
BROKEN = EVERY_MINUTE.replace('"* * * * *"', '"61 * * * *"')


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _alerts(hook: Webhook) -> list[str]:
    return [body["text"] for body in hook.received if body["attachments"][0]["title"] == "config_error"]


def _metric(port: int) -> str:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return re.search(r"^engine_config_error (\S+)$", text, re.M).group(1)  # type: ignore[union-attr]


def test_a_broken_schedules_yaml_keeps_the_last_good_one_running_visibly(sched_world: SchedWorld) -> None:
    world = sched_world
    [user] = world.add_cohort("cfg", 1)
    world.write_automations(EVERY_MINUTE)
    hook = Webhook()
    threading.Thread(target=hook.server.serve_forever, daemon=True).start()
    port = _free_port()
    log_path = world.project.parent / "replica.log"
    with open(log_path, "wb") as log:
        replica = subprocess.Popen(
            world.engine("scheduler", "--name", "r1", "--heartbeat", "0.5", "--serve-port", str(port)),
            env={**world.env(), "ENGINE_ALERT_WEBHOOK_URL": hook.url},
            stdout=log,
            stderr=log,
        )
    try:
        _wait(lambda: world.query_one("SELECT 1 FROM engine.automation_runs"), 60, "a run planned")
        broken_at = datetime.now(timezone.utc)
        world.write_automations(BROKEN)
        _wait(lambda: world.query_one("SELECT 1 FROM engine.config_errors"), 30, "the error recorded")
        [(message,)] = world.query_all("SELECT message FROM engine.config_errors")
        assert message.startswith("schedules.yaml:12:23:") and "61" in message, message

        # the last good definition plans and sends the next minute's run (TEST and live use its frozen copy)
        _wait(
            lambda: world.query_one(
                "SELECT 1 FROM engine.automation_runs WHERE send_at > %s AND status = 'cleaned'", (broken_at,)
            ),
            130,
            "a run sent after the file broke",
        )
        assert world.received([user])[0] >= 1
        assert len(_alerts(hook)) == 1 and message in _alerts(hook)[0]
        assert _metric(port) == "1.0"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        assert 'id="config-error"' in page and "schedules.yaml:12:23:" in page
        status = subprocess.run(world.engine("status"), env=world.env(), capture_output=True, text=True, timeout=60)
        assert f"config_error: {message}" in status.stdout, status

        world.write_automations(EVERY_MINUTE)
        _wait(lambda: not world.query_one("SELECT 1 FROM engine.config_errors"), 30, "the error cleared")
        _wait(lambda: _metric(port) == "0.0", 10, "the gauge back to 0")
        assert len(_alerts(hook)) == 2 and "loads again" in _alerts(hook)[1]
        assert "config_error" not in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        fixed = subprocess.run(
            world.engine("--json", "status"), env=world.env(), capture_output=True, text=True, timeout=60
        )
        assert '"config_error": null' in fixed.stdout, fixed
    finally:
        replica.send_signal(signal.SIGTERM)
        replica.wait(timeout=30)
        hook.server.shutdown()
        hook.server.server_close()
    replica_log = log_path.read_text()
    assert "Traceback" not in replica_log
    assert replica_log.count("does not load") == 1, replica_log  # one log line per change
