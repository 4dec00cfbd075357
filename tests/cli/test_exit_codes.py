"""One test per row of the README's exit-code tables, each driven by a real fault on a real server.

Every command: 0 ok, 1 failure (the manifest says what and why), 2 usage or configuration error,
3 database unreachable. `engine send`: 0 done, 1 something is left to resume, 2 bad input,
3 database unreachable, 4 completed with pushes in doubt.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from psycopg.conninfo import make_conninfo

from engine.cli.main import cli
from tests.fakes.delivery import World, delivery_db, fake_fcm, world, write_csv  # noqa: F401
from tests.fixtures.appdata import AppData, ts
from tests.integration.test_delivery_process import environment, resume, start_slow_send
from tests.interpreter.test_toy_audience import TOY_YAML, make_project
from tests.report.test_report import BROKEN_OUTPUT

AS_OF = "2026-11-20T12:00:00Z"
SCHEDULES = """\
version: 1
templates:
  toy_push: {audience: toy, output: all_products, layer: 2, title: "[[var:name]]", body: "b"}
automations:
  - id: daily_toy
    audience: toy
    pushes: [toy_push]
    schedule: {cron: "CRON", timezone: ZONE}
"""


def invoke(project: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "--log-format", "plain", *args],
        env={"ENGINE_SOURCE_DSN": "", "ENGINE_STATE_DSN": "", "ENGINE_CONNECT_RETRIES": "3", **(env or {})},
        catch_exceptions=False,
    )


@pytest.fixture
def toy(app_db: str, tmp_path: Path) -> tuple[Path, str]:
    d = AppData(app_db)
    d.wishlist(d.user("U1"), d.variant(d.product("A")), created_at=ts("2026-11-01T00:00:00+00:00"))
    d.close()
    return make_project(tmp_path / "project"), app_db


def run(project: Path, dsn: str) -> Result:
    return invoke(
        project,
        "run",
        "--select",
        "toy",
        "--as-of",
        AS_OF,
        "--out",
        str(project / "out"),
        env={"ENGINE_SOURCE_DSN": dsn},
    )


# ---- every command -----------------------------------------------------------------------------------------


def test_0_ok(toy: tuple[Path, str]) -> None:
    assert run(*toy).exit_code == 0


def test_1_failure_the_manifest_says_what_and_why(toy: tuple[Path, str]) -> None:
    project, dsn = toy
    (project / "audiences" / "toy.yaml").write_text(TOY_YAML + BROKEN_OUTPUT)  # one output names no column
    result = run(project, dsn)
    assert result.exit_code == 1, result.output
    [manifest] = (project / "out").glob("toy/*/manifest.json")
    broken = next(o for o in json.loads(manifest.read_text())["outputs"] if o["name"] == "broken")
    assert broken["status"] == "failed" and "no_such_column" in broken["error"]


@pytest.mark.parametrize(
    "dsn, says",
    [
        ("postgresql://postgres@127.0.0.1:54x32/app", 'invalid integer value "54x32" for connection option "port"'),
        ("postgresql://postgres:p@ss@127.0.0.1/app", "'@' is %40"),
    ],
    ids=["port-libpq-cannot-parse", "unencoded-at-in-password"],
)
def test_2_a_dsn_libpq_cannot_use(toy: tuple[Path, str], dsn: str, says: str) -> None:
    result = run(toy[0], dsn)
    assert result.exit_code == 2 and says in result.stderr, result.output
    assert "attempt" not in result.stderr and "ss@" not in result.stderr  # not retried, password masked


def test_2_a_database_that_does_not_exist(toy: tuple[Path, str], pg_admin_dsn: str) -> None:
    result = run(toy[0], make_conninfo(pg_admin_dsn, dbname="ae_test_no_such_db"))
    assert result.exit_code == 2 and "database 'ae_test_no_such_db' does not exist" in result.stderr


@pytest.mark.parametrize(
    "cron, zone, says",
    [
        ("61 25 * * *", "America/Chicago", "invalid cron '61 25 * * *'"),
        ("30 12 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("30 12 * * *", "CST", "unknown time zone 'CST'\n  hint: did you mean 'America/Chicago'?"),
    ],
    ids=["cron", "time-zone", "time-zone-abbreviation"],
)
def test_2_the_scheduler_with_a_bad_cron_or_time_zone(tmp_path: Path, cron: str, zone: str, says: str) -> None:
    project = make_project(tmp_path / "project")
    (project / "schedules.yaml").write_text(SCHEDULES.replace("CRON", cron).replace("ZONE", zone))
    result = invoke(project, "scheduler")
    assert result.exit_code == 2 and says in result.stderr, result.output


def test_2_usage(toy: tuple[Path, str]) -> None:
    result = invoke(toy[0], "run", "--select", "toy", "--var", "min_wishes=lots", env={"ENGINE_SOURCE_DSN": toy[1]})
    assert result.exit_code == 2, result.output


def test_3_database_unreachable(toy: tuple[Path, str]) -> None:
    result = invoke(
        toy[0],
        "run",
        "--select",
        "toy",
        "--as-of",
        AS_OF,
        env={"ENGINE_SOURCE_DSN": "postgresql://postgres@127.0.0.1:1/app", "ENGINE_CONNECT_RETRIES": "0"},
    )
    assert result.exit_code == 3 and "cannot connect to PostgreSQL at host=127.0.0.1 port=1" in result.stderr


# ---- engine send -------------------------------------------------------------------------------------------


def send(world: World, csv: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli,
        ["--json", "send", str(csv), "--title", "Hi [[var:firstName]]", "--body", "b", "--layer", "1", *extra],
        env={**environment(world), **(env or {})},
    )


def test_send_0_done(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    result = send(world, write_csv(tmp_path / "a.csv", ["user_id", "firstName"], [[uid, "Ann"]]))
    assert result.exit_code == 0 and json.loads(result.stdout)["status"] == "completed"


def test_send_1_left_to_resume(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    world.fcm.script(world.tokens[uid], "unavailable", retry_after=600)  # longer than a send waits: try later
    result = send(world, write_csv(tmp_path / "a.csv", ["user_id", "firstName"], [[uid, "Ann"]]))
    report = json.loads(result.stdout)
    assert result.exit_code == 1 and (report["status"], report["remaining"]) == ("partial", 1), result.output


def test_send_2_bad_input(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    result = send(world, write_csv(tmp_path / "a.csv", ["user_id", "first_name"], [[uid, "Ann"]]))
    assert result.exit_code == 2 and "firstName" in json.loads(result.stdout)["error"]["message"]


def test_send_3_database_unreachable(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    result = send(
        world,
        write_csv(tmp_path / "a.csv", ["user_id", "firstName"], [[uid, "Ann"]]),
        env={"ENGINE_STATE_DSN": "postgresql://postgres@127.0.0.1:1/state", "ENGINE_CONNECT_RETRIES": "0"},
    )
    assert result.exit_code == 3, result.output


def test_send_4_completed_with_pushes_in_doubt(world: World, tmp_path: Path) -> None:
    _, proc, csv = start_slow_send(world, tmp_path)
    proc.kill()  # kill -9 mid-send: the pushes in flight may or may not have arrived
    proc.wait()
    world.fcm.heal()
    code, report = resume(world, csv)
    assert (code, report["status"]) == (4, "completed_in_doubt")
