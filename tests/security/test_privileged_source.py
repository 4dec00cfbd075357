"""Least privilege by default: `engine scheduler` and live sends refuse a source role that can write or read server
files unless ENGINE_ALLOW_PRIVILEGED_SOURCE=1; other commands warn once per process; `engine test` never does.

Every environment is given explicitly (ENGINE_* variables the user exported do not leak into these checks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

import engine.db
from engine import api
from engine.cli.main import cli
from engine.config import Settings
from engine.errors import ConfigError
from tests.cli.test_cli_test import CASES
from tests.fakes.delivery import World, delivery_db, fake_fcm, world, write_csv, write_run  # noqa: F401
from tests.interpreter.test_toy_audience import make_project

WARNING = "the source role can"
ALLOW = "ENGINE_ALLOW_PRIVILEGED_SOURCE"
AS_OF = "2026-11-20T12:00:00Z"

# role kind -> (extra grants, what the refusal must name); "superuser" is the test server's own role
KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "superuser": ((), "superuser"),
    "writer": (("GRANT INSERT ON users TO {role}",), "INSERT"),
    "file_reader": (("GRANT pg_read_server_files TO {role}",), "pg_read_server_files"),
}


def privileged_dsn(kind: str, dsn: str, source_role: Callable[..., str]) -> str:
    grants, _ = KINDS[kind]
    return dsn if kind == "superuser" else source_role(dsn, kind, grants=grants)


def engine_env(**values: str) -> dict[str, str]:
    """This process's environment without any ENGINE_* variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGINE_")}
    return {**env, ALLOW: "", **values}


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", "from engine.cli.main import main; main()", "scheduler", "--heartbeat", "0.5"],
            env=env,
            stdout=out,
            stderr=out,
        )


def wait_started(proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> str:
    """Wait for "scheduler started" in the log, then stop the scheduler (SIGTERM); return the log."""
    deadline = time.monotonic() + timeout
    try:
        while "scheduler started" not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return log.read_text()


# --- engine scheduler ---------------------------------------------------------------------------------------------


@pytest.fixture
def sched_db(app_db: str) -> str:
    """App tables, engine state and the job queue's tables (what `engine migrate` creates)."""
    api.migrate_state(Settings(state_dsn=app_db))
    return app_db


@pytest.mark.parametrize("kind", list(KINDS))
def test_scheduler_refuses_a_privileged_source_role(
    kind: str, sched_db: str, source_role: Callable[..., str], tmp_path: Path
) -> None:
    app_db = sched_db
    dsn = privileged_dsn(kind, app_db, source_role)
    (tmp_path / "audiences").mkdir()  # a project (engine commands refuse a folder without audiences/)
    env = engine_env(
        ENGINE_SOURCE_DSN=dsn,
        ENGINE_STATE_DSN=app_db,
        ENGINE_PROJECT_DIR=str(tmp_path),
        ENGINE_LOG_FORMAT="plain",
        ENGINE_CONNECT_RETRIES="0",
    )
    done = subprocess.run(
        [sys.executable, "-c", "from engine.cli.main import main; main()", "scheduler"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "scheduler started" not in done.stderr
    shown = " ".join(done.stderr.split())
    assert KINDS[kind][1] in shown and "SELECT" in shown and f"{ALLOW}=1" in shown, shown


def test_scheduler_starts_with_the_override_or_a_select_only_role(
    sched_db: str, source_role: Callable[..., str], tmp_path: Path
) -> None:
    app_db = sched_db
    (tmp_path / "audiences").mkdir()  # a project (engine commands refuse a folder without audiences/)
    base = dict(
        ENGINE_STATE_DSN=app_db, ENGINE_PROJECT_DIR=str(tmp_path), ENGINE_LOG_FORMAT="plain", ENGINE_CONNECT_RETRIES="0"
    )
    allowed = start_scheduler(engine_env(**base, ENGINE_SOURCE_DSN=app_db, **{ALLOW: "1"}), tmp_path / "allowed.log")
    reader = start_scheduler(engine_env(**base, ENGINE_SOURCE_DSN=source_role(app_db)), tmp_path / "reader.log")
    allowed_log = wait_started(allowed, tmp_path / "allowed.log")
    reader_log = wait_started(reader, tmp_path / "reader.log")
    assert "scheduler started" in allowed_log and allowed_log.count(WARNING) == 1, allowed_log
    assert "scheduler started" in reader_log and WARNING not in reader_log, reader_log


# --- live sends ---------------------------------------------------------------------------------------------------


def send_env(world: World, source: str, **values: str) -> dict[str, str]:
    return engine_env(
        ENGINE_PROJECT_DIR=str(world.project),
        ENGINE_SOURCE_DSN=source,
        ENGINE_STATE_DSN=world.dsn,
        ENGINE_FCM_CREDENTIALS=str(world.settings.fcm_credentials),
        ENGINE_FCM_ENDPOINT=world.fcm.endpoint,
        ENGINE_LOG_FORMAT="plain",
        ENGINE_CONNECT_RETRIES="0",
        **values,
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_live_send_refuses_a_privileged_source_role(
    kind: str, world: World, source_role: Callable[..., str], tmp_path: Path
) -> None:
    source = privileged_dsn(kind, world.dsn, source_role)
    [uid] = world.add_users(1)
    csv = write_csv(tmp_path / "one.csv", ["user_id"], [[uid]])
    refused = CliRunner().invoke(cli, ["send", str(csv), "--template", "plain_push"], env=send_env(world, source))
    assert refused.exit_code == 2, refused.output
    shown = " ".join(refused.output.split())
    assert KINDS[kind][1] in shown and "SELECT" in shown and f"{ALLOW}=1" in shown, shown
    assert world.fcm.attempts() == {}
    # the same role may still dry-run a send
    dry = CliRunner().invoke(
        cli, ["send", str(csv), "--template", "plain_push", "--dry-run"], env=send_env(world, source)
    )
    assert dry.exit_code == 0, dry.output
    # the scheduler's live phase sends through the same call: refused as well (in-process, Settings only)
    run = write_run(
        tmp_path / "run",
        audience="announcements",
        output="everyone",
        header=["user_id"],
        rows=[[uid]],
        test_rows=[[uid]],
        run_id=str(uuid.uuid4()),
    )
    privileged = world.with_settings(source_dsn=source, allow_privileged_source=False)
    with pytest.raises(ConfigError, match=KINDS[kind][1]):
        privileged.send(run, template="plain_push")
    assert world.fcm.attempts() == {}
    # a TEST send goes to the test users only: allowed (with the warning)
    privileged.send(run, template="plain_push", test=True)


def test_live_send_with_the_override_warns_and_sends(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.db, "_warned", False)
    [uid] = world.add_users(1)
    csv = write_csv(tmp_path / "one.csv", ["user_id"], [[uid]])
    sent = CliRunner().invoke(
        cli, ["send", str(csv), "--template", "plain_push"], env=send_env(world, world.dsn, **{ALLOW: "1"})
    )
    assert sent.exit_code == 0, sent.output
    assert sent.stderr.count(WARNING) == 1
    assert world.fcm.accepted()[world.tokens[uid]] == 1


def test_live_send_with_a_select_only_role_sends_without_warning(
    world: World, source_role: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.db, "_warned", False)
    [uid] = world.add_users(1)
    csv = write_csv(tmp_path / "one.csv", ["user_id"], [[uid]])
    sent = CliRunner().invoke(
        cli, ["send", str(csv), "--template", "plain_push"], env=send_env(world, source_role(world.dsn))
    )
    assert sent.exit_code == 0, sent.output
    assert WARNING not in sent.stderr
    assert world.fcm.accepted()[world.tokens[uid]] == 1


# --- other commands: one warning per process; none for engine test's own databases --------------------------------


def test_other_commands_warn_once_per_process(
    create_database: Callable[..., str],
    source_role: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine.db, "_warned", False)
    project = make_project(tmp_path / "project")
    first, second = create_database(state=False), create_database(state=False)

    def run(dsn: str) -> str:
        result = CliRunner().invoke(
            cli,
            ["--project-dir", str(project), "run", "--as-of", AS_OF],
            env=engine_env(
                ENGINE_SOURCE_DSN=dsn,
                ENGINE_OUTPUT_DIR=str(tmp_path / "out"),
                ENGINE_LOG_FORMAT="plain",
                ENGINE_CONNECT_RETRIES="0",
            ),
        )
        assert result.exit_code == 0, result.output
        return result.stderr

    assert WARNING not in run(source_role(first))  # a SELECT-only role: nothing to say
    warned = run(first)
    assert warned.count(WARNING) == 1 and "superuser" in warned
    assert WARNING not in run(second)  # another database (or server): said once already
    assert WARNING not in run(first)


def test_engine_test_does_not_warn_about_its_own_databases(
    pg_admin_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.db, "_warned", False)
    project = make_project(tmp_path / "project")
    (project / "audiences" / "toy.tests.yaml").write_text(CASES)
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "test"],
        catch_exceptions=False,
        env=engine_env(ENGINE_TEST_DSN=pg_admin_dsn, ENGINE_LOG_FORMAT="plain"),
    )
    assert result.exit_code == 1, result.output  # CASES holds one failing case on purpose
    assert "PASS" in result.stdout and WARNING not in result.stderr


def test_the_override_is_a_setting(tmp_path: Path) -> None:
    from engine.config import resolve  # noqa: PLC0415

    assert resolve({}, env={}, project_dir=tmp_path).allow_privileged_source is False
    assert resolve({}, env={ALLOW: "1"}, project_dir=tmp_path).allow_privileged_source is True
    assert resolve({}, env={ALLOW: ""}, project_dir=tmp_path).allow_privileged_source is False
