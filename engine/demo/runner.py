"""``engine demo``: the whole product on a machine where nothing is configured.

Finds (or starts) a PostgreSQL, creates a fresh demo database, seeds synthetic
Tradeblock-shaped data, migrates the engine state into the same database, runs every
audience, then sends each run's pushes (TEST first, then live) to a local fake FCM
server (engine.demo.fake_fcm) through the engine's FCM client. Everything goes through the same library
functions as the CLI.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import re
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from engine import api
from engine.config import Settings
from engine.delivery.model import Outcomes
from engine.delivery.request import SendRequest
from engine.demo.pg import find_server
from engine.errors import ConfigError
from engine.report import write_report
from engine.runs.model import OutputStatus, RunResult
from engine.schedules.definition import Definition
from engine.schedules.loader import load_schedules
from engine.schedules.model import ScheduleFile
from engine.secrets import mask_dsn
from engine.state import automation_runs
from engine.state.connection import close_pools, state_connection
from engine.state.model import AutomationRunStatus, RunKind
from engine.timeutil import utcnow
from engine.web.server import start_in_thread

log = logging.getLogger("engine.demo")

DEMO_DATABASE = "audience_engine_demo"
DEMO_MARK = "engine demo: synthetic data, recreated by each demo run"


@dataclass
class DemoReport:
    server: str
    database: str
    seed: dict[str, Any]
    runs: list[RunResult] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # audience -> why it could not run
    fcm_messages: int = 0
    output_dir: Path | None = None
    timeline: list[tuple[str, str]] = field(default_factory=list)  # the compressed automation run's phases
    timeline_audience: int = 0  # its live recipient rows (generated as of the demo's as_of)
    timeline_fcm_messages: int = 0  # pushes its TEST and live (test mode) phases delivered to the fake FCM
    automation_runs: dict[str, str] = field(default_factory=dict)  # automation -> the run its live sends were
    planted: list[dict[str, Any]] = field(default_factory=list)  # conversions planted with a known uplift
    impact: list[dict[str, Any]] = field(default_factory=list)  # engine impact's push-level rows (ImpactLine.as_dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs) and all(s["ok"] for s in self.sends)

    @property
    def reports(self) -> list[Path]:
        """Each run's report.html (rewritten after its sends, so it shows the delivery funnel)."""
        return [r.run_dir / "report.html" for r in self.runs if r.run_dir and (r.run_dir / "report.html").exists()]


def demo_database_name(settings: Settings) -> str:
    """ENGINE_DEMO_DATABASE / --db, else one per OS user: two people's demos on one server never meet."""
    user = re.sub(r"[^a-z0-9_]+", "_", getpass.getuser().lower()).strip("_") or "user"
    return settings.demo_database or f"{DEMO_DATABASE}_{user}"[:63]


def _recreate_database(admin_dsn: str, name: str, *, reset: bool) -> str:
    """Drop and create ``name``; one the demo did not create (no DEMO_MARK comment) is dropped only with ``reset``."""
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as admin:
        row = admin.execute(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if row is not None and row[0] != DEMO_MARK and not reset:
            raise ConfigError(
                f"database {name!r} exists and was not created by engine demo",
                hint="pass --reset to drop and recreate it, or --db (ENGINE_DEMO_DATABASE) to name another",
            )
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(DEMO_MARK)))
    return make_conninfo(admin_dsn, dbname=name)


def _showcase_product(dsn: str, as_of: datetime) -> str | None:
    from engine.appdb.seed import most_offered_product  # noqa: PLC0415

    with psycopg.connect(dsn) as conn:
        product = most_offered_product(conn, as_of=as_of)
    return str(product) if product else None


def _send_all(
    settings: Settings, runs: list[RunResult], as_of: datetime, report: DemoReport, note: Callable[[str], None]
) -> None:
    from engine.demo.fake_fcm import FakeFcmServer, write_service_account  # noqa: PLC0415

    written = {
        (r.audience, o.name)
        for r in runs
        if r.run_dir
        for o in r.manifest.production_outputs
        if o.status is OutputStatus.WRITTEN
    }
    schedules = load_schedules(settings.project_dir)
    templates = schedules.templates
    pushed_by = {push: a for a in reversed(schedules.automations) for push in a.pushes}  # the first one wins
    live = _AutomationSends(settings, schedules)
    with FakeFcmServer() as fcm, tempfile.TemporaryDirectory(prefix="engine-demo-") as tmp:
        credentials = write_service_account(Path(tmp) / "service-account.json", token_uri=fcm.token_uri)
        fcm_settings = replace(settings, fcm_credentials=credentials, fcm_endpoint=fcm.endpoint)
        for name, template in templates.items():
            run = next((r for r in runs if r.audience == template.audience and r.run_dir), None)
            if run is None or run.run_dir is None or (run.audience, template.output) not in written:
                continue
            automation = pushed_by.get(name)
            for test in (True, False):
                note(f"sending {name} ({'TEST' if test else 'live'})")
                # a real send runs at the real time (cadence clock), whatever the demo's data as_of; an
                # automation's push is sent live as that automation's (its holdout is held out of it)
                request = SendRequest(source=run.run_dir, template=name, test=test)
                if automation is not None and not test:
                    live.open(automation.id, run)
                    request = replace(request, automation=automation.id)
                result = api.send(fcm_settings, request)
                report.sends.append(result.as_dict())
                if automation is not None and not test:
                    live.add(automation.id, result.outcomes)
        report.automation_runs = live.finish()
        report.fcm_messages = len(fcm.received())
        _timeline(fcm_settings, as_of, report, note)
        report.timeline_fcm_messages = len(fcm.received()) - report.fcm_messages


class _AutomationSends:
    """The demo's live sends of an automation's pushes, recorded as one run of that automation (what the
    scheduler's live phase would have been): its audience run, its frozen definition, then its outcomes. That
    run is what ``engine impact`` measures, and its report shows the held-out users and the impact section."""

    def __init__(self, settings: Settings, schedules: ScheduleFile) -> None:
        self.settings = settings
        self.schedules = schedules
        self.runs: dict[str, tuple[str, RunResult]] = {}  # automation -> (its run id, the audience run)
        self.outcomes: dict[str, Outcomes] = {}

    def open(self, automation_id: str, audience_run: RunResult) -> None:
        if automation_id in self.runs:
            return
        automation = self.schedules.automation(automation_id)
        assert automation is not None
        definition = Definition.of(self.schedules, automation)
        with state_connection(self.settings) as conn:
            run = automation_runs.create_run(
                conn,
                automation_id=automation_id,
                send_at=utcnow(),
                kind=RunKind.TRIGGERED,
                status=AutomationRunStatus.SENDING,
                reason="engine demo: the live sends of the demo's audience run, as this automation's",
            )
            assert run is not None
            automation_runs.freeze_definition(conn, run.id, definition.as_json(), definition.digest())
            automation_runs.set_audience_run(conn, run.id, audience_run.run_id)
        self.runs[automation_id] = (run.id, audience_run)
        self.outcomes[automation_id] = Outcomes()

    def add(self, automation_id: str, outcomes: Outcomes) -> None:
        self.outcomes[automation_id] += outcomes

    def finish(self) -> dict[str, str]:
        """Each run cleaned with its users by outcome, its report written again; automation -> run id."""
        for automation_id, (run_id, audience_run) in self.runs.items():
            o = self.outcomes[automation_id]
            with state_connection(self.settings) as conn:
                automation_runs.transition(
                    conn,
                    run_id,
                    {AutomationRunStatus.SENDING},
                    AutomationRunStatus.CLEANED,
                    detail=f"engine demo: live pushes: {o.summary()}",
                    run_dir=str(audience_run.run_dir),
                    audience_size=sum(x.rows for x in audience_run.manifest.production_outputs),
                    sent=o.sent,
                    failed=o.failed,
                    in_doubt=o.in_doubt,
                    cadence_excluded=o.skipped_by_cadence,
                    held_out=o.held_out,
                )
            write_report(self.settings, audience_run.run_dir)
        return {automation_id: run_id for automation_id, (run_id, _) in self.runs.items()}


DEMO_BASE_RATE = 0.10  # the held-out users' planted conversion rate
DEMO_UPLIFT = 0.05  # what the push adds for the treated users: the truth engine impact should find


def _impact(settings: Settings, report: DemoReport, note: Callable[[str], None]) -> None:
    """For each automation whose live sends held users out and that declares conversions: plant its first
    conversion with a known uplift (``engine seed --plant-conversions``), then measure it (``engine impact``)
    now, while its window is still open (the counts so far: every planted conversion is already past)."""
    from engine.experiments.planting import plant_conversions  # noqa: PLC0415

    schedules = load_schedules(settings.project_dir)
    for automation_id in report.automation_runs:
        automation = schedules.automation(automation_id)
        if automation is None or not automation.conversions or not schedules.holdouts(automation):
            continue
        moment = utcnow()
        note(f"planting {automation.conversions[0].name} for {automation_id}: +{DEMO_UPLIFT:.0%} for the treated")
        planted = plant_conversions(
            settings, automation_id, uplift=DEMO_UPLIFT, base_rate=DEMO_BASE_RATE, dsn=settings.source_dsn, now=moment
        )
        report.planted.append({**planted.as_dict(), "uplift": DEMO_UPLIFT, "base_rate": DEMO_BASE_RATE})
        measured = api.impact(settings, automation_id, since=None, now=moment)
        report.impact += [{"automation": automation_id, **row.as_dict()} for row in measured.runs if not row.variant]


def _timeline(settings: Settings, as_of: datetime, report: DemoReport, note: Callable[[str], None]) -> None:
    """One automation's whole timeline, compressed (generate T-20s, TEST T-12s, window, live at T-0) in
    test mode (the live phase goes to the test users), printed phase by phase as the scheduler runs it.
    Its audience is computed as of the demo's ``as_of`` (when the data was seeded), so it is not empty."""
    import time  # noqa: PLC0415
    from dataclasses import replace as with_changes  # noqa: PLC0415
    from datetime import timedelta  # noqa: PLC0415

    from engine.scheduler.phases import Fanout, PhaseContext, advance, send_shard  # noqa: PLC0415

    schedules = load_schedules(settings.project_dir)
    if not schedules.automations:
        return
    automation = with_changes(
        schedules.automations[0],
        generate_lead=timedelta(seconds=20),
        test_lead=timedelta(seconds=12),
        cancellation_window=timedelta(seconds=12),
        max_audience_size=None,
    )
    compressed = with_changes(schedules, automations=(automation,))
    send_at = utcnow().replace(microsecond=0) + timedelta(seconds=22)
    note(f"automation {automation.id}: compressed timeline in test mode, T-0 at {send_at:%H:%M:%S} UTC")
    with state_connection(settings) as conn:
        run = automation_runs.create_run(
            conn, automation_id=automation.id, send_at=send_at, kind=RunKind.TRIGGERED_TEST
        )
    if run is None:
        return
    ctx = PhaseContext(settings=settings, worker="engine demo", clock=utcnow, schedules=compressed, data_as_of=as_of)
    shown = 0
    while True:
        step = advance(ctx, run.id)
        with state_connection(settings) as conn:
            events = automation_runs.phases(conn, run.id)
        for event in events[shown:]:
            offset = (event.at - send_at).total_seconds()
            note(f"  T{offset:+5.1f}s  {event.status.value:<10} {event.detail or ''}".rstrip())
        shown = len(events)
        if step is None:
            break
        if isinstance(step, Fanout):  # ENGINE_SEND_SHARDS > 1: the demo runs the shards one after the other
            for job in step.shards:
                send_shard(ctx, run.id, job)
            continue
        time.sleep(max(0.0, (step.at - utcnow()).total_seconds()))
    report.timeline = [(e.status.value, e.at.isoformat()) for e in events]
    with state_connection(settings) as conn:
        finished = automation_runs.get_run(conn, run.id)
    report.timeline_audience = (finished.audience_size or 0) if finished else 0


def run_demo(
    settings: Settings,
    *,
    users: int,
    seed: int,
    as_of: datetime,
    send: bool = True,
    database: str | None = None,
    reset: bool = False,
    note: Callable[[str], None] = lambda _: None,
) -> DemoReport:
    """Seed a fresh demo database (``database``, default ``demo_database_name``), run every audience, send their
    pushes to a fake FCM. A database the demo did not create is dropped only with ``reset``."""
    database = database or demo_database_name(settings)
    server = find_server(settings)
    with contextlib.ExitStack() as stack:
        stack.callback(server.stop)
        stack.callback(close_pools)  # before the server it may have started stops
        note(f"PostgreSQL: {server.origin}")
        dsn = _recreate_database(server.admin_dsn, database, reset=reset)
        # the demo's own database (synthetic data, sends to a fake FCM): its role is not checked
        demo = replace(settings, source_dsn=dsn, state_dsn=dsn, throwaway_source=True)
        note(f"seeding {users:,} users into {database}")
        seeded = api.seed_app_database(demo, users=users, seed=seed, as_of=as_of)  # test users get a device
        api.migrate_state(demo)
        report = DemoReport(
            server=server.origin, database=mask_dsn(dsn), seed=seeded, output_dir=demo.resolved_output_dir
        )
        web = start_in_thread(demo, port=0)  # the operator page, for as long as the demo runs
        stack.callback(web.stop)
        note(f"operator page (while the demo runs): {web.url}")
        variables = {}
        product = _showcase_product(dsn, as_of)
        if product:
            variables["product_id"] = product
        ready, report.skipped = api.split_runnable(demo, variables=variables)
        note("running every audience" + (f" (skipped: {', '.join(report.skipped)})" if report.skipped else ""))
        if ready:
            report.runs = api.run(
                demo, selectors=[s.name for s in ready], as_of=as_of, variables=variables, strict=False
            )
        if send:
            _send_all(demo, report.runs, as_of, report, note)
            _impact(demo, report, note)
        return report
