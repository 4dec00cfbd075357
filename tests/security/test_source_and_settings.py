"""Source connections are read-only whatever a query does; settings and DSNs are checked up front."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.config import resolve
from engine.db import SourcePool
from engine.errors import ConfigError
from engine.secrets import mask_text
from tests.security.project import build
from tests.security.test_hostile_projects import AS_OF, invoke


def test_source_transaction_read_only_even_after_session_default_changed(app_db: str) -> None:
    with SourcePool(app_db, size=1, retries=0) as pool:
        with pool.connection() as conn:
            # a query may change a *session* default: the next borrower must not see it
            conn.execute("select set_config('default_transaction_read_only', 'off', false)")
            conn.commit()
        with pool.connection() as conn:
            assert conn.execute("select current_setting('transaction_read_only')").fetchone() == ("on",)
            assert conn.execute("select current_setting('default_transaction_read_only')").fetchone() == ("on",)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("create table pwned_by_session (x int)")
            conn.rollback()
    with psycopg.connect(app_db) as conn:
        assert conn.execute("select to_regclass('pwned_by_session')").fetchone() == (None,)


def test_database_error_located_at_source_line_not_rendered_line(app_db: str, tmp_path: Path) -> None:
    # line 1 is a block tag Jinja removes (trim_blocks), so the rendered text is one line shorter:
    # the unknown column is on line 4 of the .sql file, line 3 of the rendered query
    sql = (
        "{% import 'macros/text.sql' as text %}\n"
        "select\n"
        "    u.id as user_id,\n"
        "    u.no_such_column as first_name\n"
        "from users as u\n"
    )
    project = build(tmp_path / "project", sql=sql)
    for args in (["run", "--select", "target"], ["preview", "target"]):
        result = invoke(project, tmp_path / "out", app_db, *args, "--as-of", AS_OF)
        assert result.exit_code == 1
        assert "sql/target/users.sql:4:" in result.stdout + result.stderr, result.stdout + result.stderr
        assert "rendered line" not in result.stdout + result.stderr


SETTINGS = [  # (env var, value, words the error must contain)
    ("ENGINE_STATEMENT_TIMEOUT", "0.0001", "ENGINE_STATEMENT_TIMEOUT"),  # was: silently no timeout
    ("ENGINE_STATEMENT_TIMEOUT", "-1", "ENGINE_STATEMENT_TIMEOUT"),  # was: 30 s
    ("ENGINE_STATEMENT_TIMEOUT", "nan", "ENGINE_STATEMENT_TIMEOUT"),
    ("ENGINE_POOL_SIZE", "0", "ENGINE_POOL_SIZE"),
    ("ENGINE_POOL_SIZE", "many", "ENGINE_POOL_SIZE"),
    ("ENGINE_CONNECT_RETRIES", "-3", "ENGINE_CONNECT_RETRIES"),
    ("ENGINE_FCM_RATE_PER_MINUTE", "0", "ENGINE_FCM_RATE_PER_MINUTE"),
    ("ENGINE_CADENCE_TIMEOUT", "inf", "ENGINE_CADENCE_TIMEOUT"),
]


@pytest.mark.parametrize(("var", "value", "words"), SETTINGS, ids=[f"{v}={x}" for v, x, _ in SETTINGS])
def test_bad_setting_is_a_clear_config_error(var: str, value: str, words: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(env={var: value}, project_dir=tmp_path)
    assert words in str(caught.value) and caught.value.exit_code == 2


@pytest.mark.parametrize("dsn", ["postgresql://u:pw@127.0.0.1/app?badopt=1", "host=127.0.0.1 password=pw badopt=1"])
def test_bad_dsn_option_exits_2_without_traceback(dsn: str, tmp_path: Path) -> None:
    project = build(tmp_path / "project")
    result = invoke(project, tmp_path / "out", dsn, "run", "--as-of", AS_OF)
    assert result.exit_code == 2 and "badopt" in result.stderr and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "pw" not in result.stderr.replace("password", "")


def test_zero_statement_timeout_means_none_explicitly(tmp_path: Path) -> None:
    assert resolve(env={"ENGINE_STATEMENT_TIMEOUT": "0"}, project_dir=tmp_path).statement_timeout_s == 0


@pytest.mark.parametrize(
    "dsn", ["postgresql://app:p@ss@word@db.example:5432/app", "postgresql://app:s3cr@t@db.example/app?sslmode=require"]
)
def test_password_with_unencoded_at_is_masked_whole(dsn: str) -> None:
    password = dsn.split("://app:", 1)[1].rsplit("@db.example", 1)[0]
    masked = mask_text(f"cannot connect with {dsn}: refused")
    # every tail of the password after an '@' is hidden too (the old mask showed "ss@word@...")
    tails = [password.split("@", i)[-1] + "@" for i in range(1, password.count("@") + 1)]
    assert password not in masked and not any(tail in masked for tail in tails), masked
    assert "app:***@db.example" in masked  # user and host are still shown


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:p@te-S3cr3t@127.0.0.1:5432/db",
        "postgresql://u:te-S3cr3t/x@127.0.0.1/db",
        "host=u:te-S3cr3t@127.0.0.1 dbname=db",
        "host=127.0.0.1 password=te S3cr3t dbname=db",
    ],
)
@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_hostile_dsn_password_never_reaches_the_output(dsn: str, log_format: str, tmp_path: Path) -> None:
    # issue 22: libpq reads the password's tail as the host, and the server description showed it
    project = build(tmp_path / "project")
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "--log-format", log_format, "run", "--as-of", AS_OF],
        env={
            "ENGINE_SOURCE_DSN": dsn,
            "ENGINE_STATE_DSN": "",
            "ENGINE_OUTPUT_DIR": str(tmp_path / "out"),
            "ENGINE_CONNECT_RETRIES": "0",
        },
    )
    shown = result.stdout + result.stderr
    assert result.exit_code in (2, 3) and "Traceback" not in shown, shown
    assert "S3cr3t" not in shown, shown


def _json_lines_only(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        parsed.append(json.loads(line))  # raises (test fails) on any line that is not JSON
    return parsed


def test_json_log_mode_every_stderr_line_is_json(app_db: str, tmp_path: Path) -> None:
    bad = build(tmp_path / "bad", sql="select 1 as user_id; select 2 as user_id\n")
    failed = invoke(bad, tmp_path / "out", app_db, "run", "--as-of", AS_OF)  # `error:` lines
    usage = invoke(bad, tmp_path / "out", app_db, "run", "--var", "n=x", "--as-of", AS_OF)  # print_error
    for result, code in ((failed, 1), (usage, 2)):
        assert result.exit_code == code
        records = _json_lines_only(result.stderr)
        assert any(r["level"] == "error" for r in records), result.stderr
    assert any("more than one statement" in r["msg"] for r in _json_lines_only(failed.stderr))


def test_library_warnings_are_json_lines_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.logs import setup_logging  # noqa: PLC0415

    setup_logging("json")
    try:
        logging.getLogger("psycopg.pool").warning("error connecting in 'pool-1': connection refused")
        records = _json_lines_only(capsys.readouterr().err)
        assert [r["logger"] for r in records] == ["psycopg.pool"] and records[0]["level"] == "warning"
    finally:
        setup_logging("plain")


def test_unmigrated_state_database_names_engine_migrate(app_db: str, create_database, tmp_path: Path) -> None:
    state = create_database(app_schema=False, state=False)
    project = build(tmp_path / "project")
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "run", "--as-of", AS_OF],
        env={"ENGINE_SOURCE_DSN": app_db, "ENGINE_STATE_DSN": state, "ENGINE_OUTPUT_DIR": str(tmp_path / "out")},
    )
    assert result.exit_code == 2, result.stderr  # like every command on an unmigrated state database
    assert "engine migrate" in result.stderr and "Traceback" not in result.stderr
    assert "db migrate" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.csv"))  # nothing ran
