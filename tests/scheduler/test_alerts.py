"""The scheduler's alert-worthy outcomes reach the webhook (a local HTTP server): a missed run
(skip policy) and a ``max_audience_size`` block each post one alert; a good run posts none."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from engine.observe.alerts import alerter_for
from engine.state.model import AutomationRunStatus, RunKind
from tests.scheduler.world import (  # noqa: F401
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


class Webhook:
    """A local HTTP server that records every JSON body posted to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[str]:
        """The event names of the alerts delivered so far (after the background queue drained)."""
        assert alerter_for(self.url).drain(10)
        return [body["attachments"][0]["title"] for body in self.received]


@pytest.fixture
def alerting(sched_world: SchedWorld) -> Iterator[tuple[SchedWorld, Webhook]]:
    hook = Webhook()
    threading.Thread(target=hook.server.serve_forever, daemon=True).start()
    yield replace(sched_world, settings=replace(sched_world.settings, alert_webhook_url=hook.url)), hook
    hook.server.shutdown()
    hook.server.server_close()


def test_a_good_run_posts_no_alert(alerting: tuple[SchedWorld, Webhook]) -> None:
    world, hook = alerting
    world.write_automations(automation_yaml("a_good", "good"))
    users = world.add_cohort("good", 2)
    run = world.create_run("a_good", T)
    drive(world, run.id, Clock(T - seconds(60)))
    assert world.run(run.id).status is AutomationRunStatus.CLEANED and world.received(users) == [1, 1]
    assert hook.events() == []


def test_a_missed_run_posts_one_alert(alerting: tuple[SchedWorld, Webhook]) -> None:
    world, hook = alerting
    world.write_automations(automation_yaml("a_missed", "missed"))  # missed policy: skip (the default)
    run = world.create_run("a_missed", T, kind=RunKind.SCHEDULED)
    # the first phase only gets to run 5 minutes after T (past T + 1 min on time): skipped as missed
    drive(world, run.id, Clock(T + timedelta(minutes=5)))
    assert world.run(run.id).status is AutomationRunStatus.SKIPPED
    assert hook.events() == ["missed_run"]
    fields = {f["title"]: f["value"] for f in hook.received[0]["attachments"][0]["fields"]}
    assert (fields["run_id"], fields["automation"]) == (run.id, "a_missed")


def test_a_blocked_run_posts_one_alert(alerting: tuple[SchedWorld, Webhook]) -> None:
    world, hook = alerting
    world.write_automations(automation_yaml("a_block", "block", extra="    max_audience_size: 1\n"))
    world.add_cohort("block", 2)  # 2 rows > max 1: blocked
    run = world.create_run("a_block", T)
    drive(world, run.id, Clock(T - seconds(60)))
    assert world.run(run.id).status is AutomationRunStatus.BLOCKED
    assert hook.events() == ["max_audience_size_blocked"]
    assert "over max_audience_size 1" in hook.received[0]["text"]
