"""Scheduler test world: a temp project with a one-query audience per cohort of users, real
PostgreSQL (app + state + procrastinate), the fake FCM server, and a driver that runs a
run's phases in-process on an injected clock (the process tests start real replicas)."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import psycopg
import pytest

from engine import api
from engine.config import FOUNDER, Settings
from engine.demo.fake_fcm import FakeFcmServer, write_service_account
from engine.scheduler.phases import Fanout, PhaseContext, advance, send_shard
from engine.state import automation_runs
from engine.state.model import AutomationRun, AutomationRunStatus, RunKind

REPO = Path(__file__).resolve().parents[2]
FOUNDER_TOKEN = "tok-founder"

AUDIENCE = """\
name: cohort
layer: 1
description: The users of one test cohort (username prefix); pause_s holds the query to widen a phase.
params:
  cohort: {type: string, default: "none"}
  pause_s: {type: number, default: 0, minimum: 0}
queries:
  - name: members
    sql: cohort/members.sql
audience:
  from: members
outputs:
  - name: everyone
    file: cohort-{cohort}_{timestamp}.csv
    order_by: [{column: user_id}]
    columns:
      user_id: user_id
      firstName: first_name
    test:
      file: cohort-{cohort}_TEST_{timestamp}.csv
"""

MEMBERS_SQL = """\
-- The cohort's users; hold_open (a function of the test database) lets a test hold the generate phase open.
select
    u.id as user_id,
    u.username as first_name
from users as u
cross join (select hold_open({{ pause_s }}) as slept) as s
where left(u.username, length({{ cohort }}) + 1) = {{ cohort }} || '-'
"""

TEMPLATE = """\
version: 1
templates:
  hello:
    audience: cohort
    output: everyone
    layer: 1
    title: "Hi [[var:firstName]]"
    body: "Scheduled hello"
automations:
"""


def automation_yaml(
    automation_id: str,
    cohort: str,
    *,
    lead: str = "{generate: 6s, test: 4s}",
    extra: str = "",
    cron: str = "0 9 * * *",
    zone: str = "UTC",
    pause_s: float = 0,
) -> str:
    return (
        f'  - id: {automation_id}\n    audience: cohort\n    schedule: {{cron: "{cron}", timezone: {zone}}}\n'
        f"    lead: {lead}\n    vars: {{cohort: {cohort}, pause_s: {pause_s}}}\n    pushes: [hello]\n{extra}"
    )


@dataclass
class SchedWorld:
    settings: Settings
    fcm: FakeFcmServer
    dsn: str
    project: Path
    tokens: dict[str, str]  # user id -> token

    def write_automations(self, *entries: str) -> None:
        (self.project / "schedules.yaml").write_text(TEMPLATE + "".join(entries), encoding="utf-8")

    def add_cohort(self, cohort: str, size: int) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in range(size)]
        with psycopg.connect(self.dsn) as conn:
            for i, uid in enumerate(ids):
                conn.execute("INSERT INTO users (id, username) VALUES (%s, %s)", (uid, f"{cohort}-{i}"))
                conn.execute(
                    "INSERT INTO devices (user_id, fingerprint, token, updated_at) "
                    "VALUES (%s, %s, %s, timestamptz '2026-11-01 00:00+00')",
                    (uid, f"fp-{cohort}-{i}", f"tok-{cohort}-{i}"),
                )
                self.tokens[uid] = f"tok-{cohort}-{i}"
        return ids

    def received(self, ids: Sequence[str]) -> list[int]:
        accepted = self.fcm.accepted()
        return [accepted[self.tokens[uid]] for uid in ids]

    def create_run(self, automation_id: str, send_at: datetime, kind: RunKind = RunKind.TRIGGERED) -> AutomationRun:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            run = automation_runs.create_run(conn, automation_id=automation_id, send_at=send_at, kind=kind)
        assert run is not None
        return run

    def run(self, run_id: str) -> AutomationRun:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            run = automation_runs.get_run(conn, run_id)
        assert run is not None
        return run

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(sql, params).fetchone()

    def query_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def history(self, run_id: str) -> list[tuple[str, datetime]]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return [(p.status.value, p.at) for p in automation_runs.phases(conn, run_id)]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
        env.update(
            ENGINE_PROJECT_DIR=str(self.project),
            ENGINE_SOURCE_DSN=str(self.settings.source_dsn),
            ENGINE_STATE_DSN=self.dsn,
            ENGINE_OUTPUT_DIR=str(self.settings.output_dir),
            ENGINE_FCM_CREDENTIALS=str(self.settings.fcm_credentials),
            ENGINE_FCM_ENDPOINT=self.fcm.endpoint,
            ENGINE_FCM_CONCURRENCY="4",
            ENGINE_LOG_FORMAT="json",
        )
        return env

    def engine(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "from engine.cli.main import main; main()", *args]


class Clock:
    """A settable clock for in-process phases."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        """The live phase's wait for T: the clock moves on, no time passes."""
        self.now += timedelta(seconds=seconds)


def drive(
    world: SchedWorld,
    run_id: str,
    clock: Clock,
    *,
    before: Callable[[str, datetime], None] | None = None,
    max_steps: int = 10,
) -> list[str]:
    """Run a run's phases in order, jumping the clock to each one's time; return the phases run
    (a live send split into shards runs them one after the other, each shown as ``shard K/N``)."""
    ctx = PhaseContext(settings=world.settings, worker="test", clock=clock, sleep=clock.sleep)
    done = []
    for _ in range(max_steps):
        step = advance(ctx, run_id)
        if step is None:
            return done
        if isinstance(step, Fanout):
            for job in step.shards:
                send_shard(ctx, run_id, job)
                done.append(f"shard {job.shard}")
            continue
        clock.now = max(clock.now, step.at)
        if before:
            before(step.phase.value, clock.now)
        done.append(step.phase.value)
    raise AssertionError("the run did not finish")


@pytest.fixture(scope="module")
def sched_db(create_database: Callable[..., str]) -> str:
    dsn = create_database()
    api.migrate_state(Settings(state_dsn=dsn))
    return dsn


def make_world(dsn: str, root: Path, fcm: FakeFcmServer, source: str) -> SchedWorld:
    """A project under ``root`` on database ``dsn``, sending to ``fcm``, with the founder as test user; the source
    is read as role ``source`` (a SELECT-only role: the scheduler and live sends refuse more)."""
    project = root / "project"
    (project / "sql" / "tokens").mkdir(parents=True)
    (project / "sql" / "cohort").mkdir(parents=True)
    (project / "audiences").mkdir()
    shutil.copy(REPO / "sql" / "tokens" / "latest_device_token.sql", project / "sql" / "tokens")
    (project / "audiences" / "cohort.yaml").write_text(AUDIENCE, encoding="utf-8")
    (project / "sql" / "cohort" / "members.sql").write_text(MEMBERS_SQL, encoding="utf-8")
    credentials = write_service_account(root / "service-account.json", token_uri=fcm.token_uri)
    settings = Settings(
        project_dir=project,
        source_dsn=source,
        state_dsn=dsn,
        output_dir=root / "output",
        fcm_credentials=credentials,
        fcm_endpoint=fcm.endpoint,
        fcm_concurrency=4,
        connect_retries=0,
    )
    with psycopg.connect(dsn) as conn:
        # audience SQL may not call pg_sleep (engine/policy/refused_functions.yaml); a function the database
        # defines is the database owner's choice, outside the policy's sight (least privilege covers it)
        conn.execute(
            "CREATE OR REPLACE FUNCTION hold_open(seconds float8) RETURNS void LANGUAGE sql "
            "AS 'select pg_sleep(seconds)'"
        )
        conn.execute(
            "INSERT INTO users (id, username) VALUES (%s, 'founder') ON CONFLICT DO NOTHING", (FOUNDER["user_id"],)
        )
        conn.execute(
            "INSERT INTO devices (user_id, fingerprint, token, updated_at) SELECT %s, 'fp-founder', %s,"
            " timestamptz '2026-11-01 00:00+00' WHERE NOT EXISTS (SELECT 1 FROM devices WHERE token = %s)",
            (FOUNDER["user_id"], FOUNDER_TOKEN, FOUNDER_TOKEN),
        )
    return SchedWorld(settings, fcm, dsn, project, {})


@pytest.fixture
def sched_world(sched_db: str, tmp_path: Path, source_role: Callable[..., str]) -> Iterator[SchedWorld]:
    with FakeFcmServer() as fcm:
        yield make_world(sched_db, tmp_path, fcm, source_role(sched_db))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


__all__ = ["Any", "AutomationRunStatus"]
