"""`engine compile` output pasted into psql, as the README suggests: a hostile value never runs as SQL."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from tests.security.project import build

HOSTILE = "x'; create table pwned_table (a int); --"
# --placeholders lists each value in a `-- name = ...` comment: a line break would end the comment
HOSTILE_LINES = "x\n; create table pwned_table (a int);\n"
CONTINUED = """\
select
    u.id as user_id,
    u.first_name
from users as u
where u.first_name = E'a'
'\\' {{ name }} ' -- '
"""


def _compile(project: Path, *args: str):
    return CliRunner().invoke(
        cli,
        [
            "--project-dir",
            str(project),
            "--log-format",
            "plain",
            "compile",
            "target",
            "--as-of",
            "2026-11-20T12:00:00Z",
            *args,
        ],
        env={"ENGINE_SOURCE_DSN": "", "ENGINE_STATE_DSN": ""},
    )


def _pwned(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select to_regclass('public.pwned_table') is not null").fetchone()[0]


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql (PostgreSQL's client) is not installed")
@pytest.mark.parametrize("placeholders", [False, True])
@pytest.mark.parametrize("value", [HOSTILE, HOSTILE_LINES])
def test_a_hostile_value_pasted_into_psql_stays_a_value(
    app_db: str, tmp_path: Path, placeholders: bool, value: str
) -> None:
    project = build(tmp_path / "project")
    result = _compile(project, "--var", f"name={value}", *(["--placeholders"] if placeholders else []))
    assert result.exit_code == 0, result.output
    pasted = subprocess.run(
        ["psql", "-X", "-v", "ON_ERROR_STOP=0", "-d", app_db],
        input=result.stdout,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not _pwned(app_db), pasted.stdout + pasted.stderr
    if not placeholders:  # the literal form runs as one query and finds nobody called that
        assert pasted.returncode == 0 and "(0 rows)" in pasted.stdout, pasted.stdout + pasted.stderr


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql (PostgreSQL's client) is not installed")
def test_a_placeholder_postgresql_reads_inside_a_string_is_refused(app_db: str, tmp_path: Path) -> None:
    # the red team's case: the lexer of old closed the string at '\' and put the value in code
    project = build(tmp_path / "project", sql=CONTINUED)
    result = _compile(project, "--var", f"name={HOSTILE}")
    assert result.exit_code == 1, result.output
    assert "sql/target/users.sql:6" in result.output and "inside a string literal" in result.output
    assert "create table" not in result.stdout
    subprocess.run(["psql", "-X", "-d", app_db], input=result.stdout, capture_output=True, text=True, timeout=60)
    assert not _pwned(app_db)
