"""One vocabulary for outcomes (issue 24): after a kill -9 of the live sender, the pushes it had handed to FCM
are "in doubt" in the run summary, `engine status` (text and --json), the report, the operator page and the
metrics, never "failed"; a cancelled run is "cancelled" everywhere. Real processes, PostgreSQL, the fake FCM."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from engine import api
from engine.cli.main import cli
from engine.observe import metrics
from engine.scheduler.phases import Next, PhaseContext, advance
from engine.state.model import AutomationRunStatus
from engine.web.server import operator_app
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
USERS = 200

# The live phase of one run in its own process, on a clock stopped at T (the victim of the kill -9).
LIVE_PHASE = """
import sys
from datetime import datetime
from engine.config import resolve
from engine.scheduler.phases import Next, PhaseContext, advance
at = datetime.fromisoformat(sys.argv[2])
advance(PhaseContext(settings=resolve({}), worker="victim", clock=lambda: at), sys.argv[1])
"""


def _to_window(world: SchedWorld, run_id: str, send_at: datetime = T) -> None:
    """Generate and TEST in process, stopping before the live phase."""
    clock = Clock(send_at - seconds(60))
    ctx = PhaseContext(settings=world.settings, worker="test", clock=clock)
    while world.run(run_id).status is not AutomationRunStatus.WINDOW:
        step = advance(ctx, run_id)
        assert isinstance(step, Next), step
        clock.now = max(clock.now, step.at)


def _kill_live_sender_mid_send(world: SchedWorld, run_id: str, users: list[str]) -> None:
    world.fcm.slow(0.05)
    victim = subprocess.Popen(
        [sys.executable, "-c", LIVE_PHASE, run_id, T.isoformat()],
        env=world.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while sum(world.received(users)) < 20:
        assert victim.poll() is None and time.monotonic() < deadline, "the live send never got going"
        time.sleep(0.05)
    victim.kill()  # kill -9: the pushes it had handed to FCM have no recorded answer
    victim.wait()
    world.fcm.heal()


def _in_doubt_counts(text: str) -> tuple[int, int, int]:
    match = re.search(r"(\d+) sent, (\d+) failed, (\d+) in doubt", text)
    assert match, text
    sent, failed, doubt = (int(g) for g in match.groups())
    return sent, failed, doubt


def _outcome_metrics(exposition: str, automation: str) -> dict[str, int]:
    found = re.findall(
        rf'engine_automation_outcomes_total{{automation="{automation}",outcome="(\w+)"}} ([\d.]+)', exposition
    )
    return {outcome: int(float(value)) for outcome, value in found}


def test_kill_9_mid_send_is_in_doubt_everywhere_never_failed(
    sched_world: SchedWorld, caplog: pytest.LogCaptureFixture
) -> None:
    sched_world.write_automations(automation_yaml("a_doubt", "doubt"))
    users = sched_world.add_cohort("doubt", USERS)
    run = sched_world.create_run("a_doubt", T)
    _to_window(sched_world, run.id)
    _kill_live_sender_mid_send(sched_world, run.id, users)
    assert sched_world.run(run.id).status is AutomationRunStatus.SENDING
    # a surviving worker resumes the live send, then cleans up; any FCM refusal at all would alert
    strict = replace(sched_world, settings=replace(sched_world.settings, alert_fcm_error_rate_pct=0.1))
    with caplog.at_level(logging.WARNING, logger="engine.alerts"):
        drive(strict, run.id, Clock(T))
    alerts = [r.getMessage() for r in caplog.records if r.name == "engine.alerts"]
    assert any("are in doubt" in a for a in alerts) and not any("FCM error rate" in a for a in alerts), alerts

    final = sched_world.run(run.id)
    assert final.status is AutomationRunStatus.CLEANED, final.reason
    assert final.outcomes is not None
    doubt = final.outcomes.in_doubt
    assert doubt > 0 and final.outcomes.failed == 0 and final.outcomes.sent + doubt == USERS
    # FCM accepted every push it saw at most once: the ones in doubt are not sent again
    assert max(sched_world.received(users)) == 1
    # the run summary (its last phase's detail)
    assert _in_doubt_counts(final.reason or "") == (USERS - doubt, 0, doubt)
    assert "0 held out" in (final.reason or "")

    # engine status, text and --json
    runner = CliRunner()
    text = runner.invoke(cli, ["status"], env=sched_world.env())
    assert text.exit_code == 0, text.output
    line = next(row for row in text.output.splitlines() if run.id in row)
    assert _in_doubt_counts(line) == (USERS - doubt, 0, doubt) and "None" not in line
    as_json = runner.invoke(cli, ["--json", "status"], env=sched_world.env())
    [recent] = [
        r for a in json.loads(as_json.output)["automations"] if a["automation"] == "a_doubt" for r in a["recent"]
    ]
    assert recent["outcomes"] == {
        "sent": USERS - doubt,
        "failed": 0,
        "in_doubt": doubt,
        "skipped_by_cadence": 0,
        "held_out": 0,
        "cancelled": 0,
    }

    # the report: rewritten after the last phase (its phase table ends at cleaned), badge "in doubt"
    html = (Path(final.run_dir or "") / "report.html").read_text(encoding="utf-8")
    badge = re.search(r'id="run-status">([^<]*)<', html)
    assert badge and badge.group(1) == "in doubt"
    assert re.findall(r"<tr><td>(\w+)</td>", html.split('id="phases"')[1].split("</table>")[0])[-1] == "cleaned"
    live = html.split("(live)")[1]
    assert _in_doubt_counts(live) == (USERS - doubt, 0, doubt)

    # the operator page (its JSON and its table)
    with TestClient(operator_app(sched_world.settings, bound=("127.0.0.1",)), base_url="http://127.0.0.1:8765") as http:
        [row] = [r for r in http.get("/api/status").json()["runs"] if r["run_id"] == final.audience_run_id]
        page = http.get("/").text
    assert (row["automation"], row["badge"]) == ("a_doubt", "in doubt")
    assert row["outcomes"]["in_doubt"] == doubt and row["outcomes"]["failed"] == 0
    assert '<span class="status status-in_doubt">in doubt</span>' in page

    # metrics: the pushes in doubt are a gauge of their own, never a failed push
    exposition = metrics.exposition().decode()
    assert f'engine_pushes_in_doubt{{audience="cohort"}} {float(doubt)}' in exposition
    assert "IN_FLIGHT_UNKNOWN" not in exposition
    # and the run's users by outcome, in the same vocabulary
    assert _outcome_metrics(exposition, "a_doubt") == {
        "sent": USERS - doubt,
        "failed": 0,
        "in_doubt": doubt,
        "skipped_by_cadence": 0,
        "held_out": 0,
        "cancelled": 0,
    }


def test_a_cancelled_run_is_cancelled_everywhere(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_cancelled", "cancelled"))
    sched_world.add_cohort("cancelled", 3)
    run = sched_world.create_run("a_cancelled", T)
    _to_window(sched_world, run.id)
    api.cancel_run(sched_world.settings, run.id[:8], reason="wrong copy")  # the id the page shows
    final = sched_world.run(run.id)
    assert final.status is AutomationRunStatus.CANCELLED
    assert final.outcomes is not None and final.outcomes.cancelled == 3 and final.outcomes.sent == 0

    text = CliRunner().invoke(cli, ["status"], env=sched_world.env())
    line = next(row for row in text.output.splitlines() if run.id in row)
    assert "3 cancelled" in line and "None" not in line

    html = (Path(final.run_dir or "") / "report.html").read_text(encoding="utf-8")
    badge = re.search(r'id="run-status">([^<]*)<', html)
    assert badge and badge.group(1) == "cancelled"
    with TestClient(operator_app(sched_world.settings, bound=("127.0.0.1",)), base_url="http://127.0.0.1:8765") as http:
        [row] = [r for r in http.get("/api/status").json()["runs"] if r["run_id"] == final.audience_run_id]
    assert row["badge"] == "cancelled"
    assert _outcome_metrics(metrics.exposition().decode(), "a_cancelled")["cancelled"] == 3


def test_a_run_whose_process_died_reads_abandoned_at_once(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_dies", "dies"))
    sched_world.add_cohort("dies", 2)
    victim = subprocess.Popen(
        sched_world.engine("run", "--select", "cohort", "--var", "cohort=dies", "--var", "pause_s=30"),
        env=sched_world.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = "SELECT id::text FROM engine.runs WHERE status = 'running' AND params->>'cohort' = 'dies'"
    deadline = time.monotonic() + 60
    while (row := sched_world.query_one(running)) is None:
        assert victim.poll() is None and time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    victim.kill()  # kill -9 mid-query: its row stays 'running' until someone looks
    victim.wait()
    # PostgreSQL ends the dead client's session (and frees its run lock) once it sees the socket closed: on a
    # loaded machine that can lag the kill by a moment, so wait for it, as any reader after the death would
    free = "SELECT pg_try_advisory_lock(hashtextextended('engine.run:' || %s::text, 0))"
    with psycopg.connect(sched_world.dsn, autocommit=True) as conn:
        while not conn.execute(free, row).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline + 30, "the dead process's session never ended"
            time.sleep(0.05)
        conn.execute("SELECT pg_advisory_unlock(hashtextextended('engine.run:' || %s::text, 0))", row)
    # no other run starts: the page, a reader, already sees it abandoned
    with TestClient(operator_app(sched_world.settings, bound=("127.0.0.1",)), base_url="http://127.0.0.1:8765") as http:
        [seen] = [r for r in http.get("/api/status").json()["runs"] if r["run_id"] == row[0]]
    assert (seen["status"], seen["badge"]) == ("abandoned", "abandoned")


def _dots(svg: str, series: int) -> list[float]:
    """The x of each point pygal drew for series number ``series`` (0: audience size, 1: sent)."""
    parts = [p.split('class="series serie-')[0] for p in svg.split(f'class="series serie-{series} ')[1:]]
    return [float(x) for part in parts for x in re.findall(r'<circle cx="([\d.]+)"', part)]


def test_history_draws_runs_without_a_send_as_gaps_on_a_time_axis(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_hist", "hist"))
    sched_world.add_cohort("hist", 2)
    days = [T, T + seconds(86400), T + seconds(3 * 86400)]  # the third run two days after the second
    sent, cancelled, again = (sched_world.create_run("a_hist", at) for at in days)
    drive(sched_world, sent.id, Clock(days[0] - seconds(60)))
    _to_window(sched_world, cancelled.id, days[1])
    api.cancel_run(sched_world.settings, cancelled.id)
    drive(sched_world, again.id, Clock(days[2] - seconds(60)))

    svg = api.report_history(sched_world.settings, "a_hist").read_text(encoding="utf-8")
    size, delivered = _dots(svg, 0), _dots(svg, 1)
    assert len(size) == 3 and len(delivered) == 2  # the cancelled run sent nothing: a gap, not a 0
    assert abs((size[2] - size[1]) - 2 * (size[1] - size[0])) < 1  # x is time, not the run's rank
