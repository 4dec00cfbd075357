"""`engine demo` end to end on the test server: seed, every audience, sends to the fake FCM."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from engine.config import resolve
from engine.demo.runner import run_demo
from engine.schedules.loader import load_schedules
from engine.spec.loader import load_project_audiences
from engine.timeutil import parse_as_of
from tests.conftest import PROJECT_ROOT


@pytest.fixture
def demo_database(pg_admin_dsn: str):
    name = f"ae_demo_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.slow
def test_demo_runs_every_audience_and_sends(pg_admin_dsn: str, demo_database: str, tmp_path) -> None:
    settings = resolve({"source_dsn": pg_admin_dsn, "output_dir": tmp_path, "project_dir": PROJECT_ROOT}, env={})
    report = run_demo(settings, users=1000, seed=7, as_of=parse_as_of("2026-11-23T12:30:00Z"), database=demo_database)
    assert report.ok, ([r.manifest.errors for r in report.runs], [s["message"] for s in report.sends])
    # every audience of the project ran, except those needing a param the demo cannot give (listed)
    assert sorted([r.audience for r in report.runs] + list(report.skipped)) == sorted(
        s.name for s in load_project_audiences(PROJECT_ROOT)
    )
    for run in report.runs:
        assert run.status == "succeeded", run.audience
        assert any(o.rows for o in run.manifest.outputs if not o.is_test), run.audience
    assert report.sends, "schedules.yaml templates should produce sends"
    # each TEST send reaches the one test user (the founder, given a device by the demo)
    assert all(s["sent"] == 1 for s in report.sends if s["mode"] == "test")
    # every accepted push reached the fake server: sent counts add up to what it received
    assert sum(s["sent"] for s in report.sends) == report.fcm_messages > 0
    # then one automation's compressed timeline, every phase in order (test mode: live to the test users).
    # Its audience is computed as of the demo's as_of, so it has rows and the live phase really sends
    phases = [status for status, _ in report.timeline]
    assert phases == [
        "scheduled",
        "generating",
        "generated",
        "testing",
        "tested",
        "window",
        "sending",
        "sent",
        "cleaned",
    ]
    assert report.timeline_audience > 0
    # the first automation's pushes each go once to the one test user at TEST and once more at live (test
    # mode): 2 x its pushes, unless a push's output is empty (then that push sends nothing, in both phases)
    first = load_schedules(PROJECT_ROOT).automations[0]
    assert 0 < report.timeline_fcm_messages <= 2 * len(first.pushes)
    assert report.timeline_fcm_messages % 2 == 0
    with psycopg.connect(make_conninfo(pg_admin_dsn, dbname=demo_database)) as conn:
        runs = conn.execute("select count(*) from engine.runs where status = 'succeeded'").fetchone()[0]
    assert runs == len(report.runs) + 1  # every audience's run, plus the automation run's generate


def test_the_demo_database_is_named_per_os_user_or_as_configured(tmp_path) -> None:
    import getpass  # noqa: PLC0415

    from engine.demo.runner import demo_database_name  # noqa: PLC0415

    assert demo_database_name(resolve({}, env={}, project_dir=tmp_path)).endswith("_" + getpass.getuser().lower())
    named = resolve({}, env={"ENGINE_DEMO_DATABASE": "my_demo"}, project_dir=tmp_path)
    assert demo_database_name(named) == "my_demo"


def test_the_demo_never_drops_a_database_it_did_not_create_without_reset(
    pg_admin_dsn: str, empty_db: str, tmp_path
) -> None:
    from click.testing import CliRunner  # noqa: PLC0415
    from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415

    from engine.cli.main import cli  # noqa: PLC0415

    name = str(conninfo_to_dict(empty_db)["dbname"])
    with psycopg.connect(empty_db) as conn:
        conn.execute("CREATE TABLE keep_me (x int)")
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(PROJECT_ROOT), "demo", "--db", name, "--no-send"],
        env={"ENGINE_SOURCE_DSN": pg_admin_dsn, "ENGINE_OUTPUT_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2, result.output
    assert f"database {name!r} exists and was not created by engine demo" in result.stderr
    assert "--reset" in result.stderr
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regclass('keep_me') IS NOT NULL").fetchone() == (True,)
