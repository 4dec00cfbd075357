"""Held out is an outcome everywhere outcomes are shown (issue 26): an automation with ``holdout: {percent: 50}``
runs on the injected clock through real PostgreSQL and the fake FCM; the users the fake FCM never heard of are
the held-out ones, and the run summary, ``engine status`` (text and --json), the report's funnel, the operator
page and ``engine_automation_outcomes_total`` all count exactly them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from starlette.testclient import TestClient

from engine.cli.main import cli
from engine.observe import metrics
from engine.state.model import AutomationRunStatus
from engine.web.server import operator_app
from tests.fixtures.htmlpage import parse
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
USERS = 40


def _held_out_metric(automation: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "engine_automation_outcomes_total", {"automation": automation, "outcome": "held_out"}
        )
        or 0.0
    )


def test_held_out_users_are_counted_in_every_outcome_view(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_held", "held", extra="    holdout: {percent: 50}\n"))
    users = sched_world.add_cohort("held", USERS)
    before = _held_out_metric("a_held")
    run = sched_world.create_run("a_held", T)
    drive(sched_world, run.id, Clock(T - seconds(60)))
    final = sched_world.run(run.id)
    assert final.status is AutomationRunStatus.CLEANED, final.reason

    # the truth, from the fake FCM: every cohort user either got exactly one push or was held out
    received = sched_world.received(users)
    assert set(received) <= {0, 1}
    held = received.count(0)
    assert 0 < held < USERS  # 50 % of 40: Binomial(40, 0.5) is 0 or 40 with probability 2e-12
    assert final.outcomes is not None and (final.outcomes.held_out, final.outcomes.sent) == (held, USERS - held)

    # the run summary: the last phase's detail
    assert f"{USERS - held} sent" in (final.reason or "") and f"{held} held out" in (final.reason or "")

    # engine status: text and --json
    runner = CliRunner()
    text = runner.invoke(cli, ["status"], env=sched_world.env())
    assert text.exit_code == 0, text.output
    line = next(row for row in text.output.splitlines() if run.id in row)
    assert f"{held} held out" in line
    as_json = runner.invoke(cli, ["--json", "status"], env=sched_world.env())
    [recent] = [
        r for a in json.loads(as_json.output)["automations"] if a["automation"] == "a_held" for r in a["recent"]
    ]
    assert recent["outcomes"]["held_out"] == held and recent["outcomes"]["sent"] == USERS - held

    # the report's funnel: a "held out" step after the FCM outcomes, and the summary line
    report = Path(final.run_dir or "") / "report.html"
    page = parse(report)
    funnel = {row[0]: row[1:] for row in page.rows("funnel-table")[1:]}
    assert funnel["held out"][0] == str(held)
    assert funnel["targeted"][0] == str(USERS - held) and f"held out: {held}" in funnel["targeted"][2]
    assert f"{held} held out" in page.texts["outcomes"]
    live = report.read_text(encoding="utf-8").split("(live)")[1]
    assert re.search(rf"{held} held out, \d+ cancelled; 0 skipped for other reasons", live)

    # the operator page: its JSON and its table's held out column
    with TestClient(operator_app(sched_world.settings, bound=("127.0.0.1",)), base_url="http://127.0.0.1:8765") as http:
        [row] = [r for r in http.get("/api/status").json()["runs"] if r["run_id"] == final.audience_run_id]
        html = http.get("/").text
    assert row["outcomes"]["held_out"] == held
    table = parse(html).rows("runs")
    column = table[0].index("held out")
    [cells] = [r for r in table[1:] if r[2] == "cohort" and r[1] == "a_held"]
    assert cells[column] == str(held)

    # metrics: the run's users by outcome
    assert _held_out_metric("a_held") - before == held
