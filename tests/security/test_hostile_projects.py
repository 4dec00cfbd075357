"""Red team: every row of hostile.yaml is one attack; each must be refused and must leave no trace.

For every row and command: the exit code and message the row names, no traceback, and what
was NOT done: no table created in the app database, the ``victim`` session alive, ``users`` unchanged
(compared with a hash taken before), no file anywhere but the output folder (``elsewhere/`` stays empty), and the
secret marker nowhere in stdout, stderr or any written file. ``engine validate`` then gives
the row's located finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from engine.cli.main import cli
from tests.fixtures.appdata import AppData
from tests.security.project import build

ROWS: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "hostile.yaml").read_text())
AS_OF = "2026-11-20T12:00:00Z"
MARKER = "-----BEGIN PRIVATE KEY----- s3cr3t-marker-7f1c"
BIG = "b" * 120_000


def _fill(value: Any, secret: Path, appdb: str) -> Any:
    if isinstance(value, str):
        return value.replace("{secret}", str(secret)).replace("{big}", BIG).replace("{appdb}", appdb)
    if isinstance(value, list):
        return [_fill(v, secret, appdb) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, secret, appdb) for k, v in value.items()}
    return value


def _users_digest(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return conn.execute("select md5(string_agg(u::text, '|' order by u.id)) from users as u").fetchone()[0]


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {
            r[0]
            for r in conn.execute(
                "select c.relname from pg_class as c inner join pg_namespace as n on c.relnamespace = n.oid "
                "where c.relkind in ('r', 'p', 'v', 'm') and n.nspname not in ('pg_catalog', 'information_schema')"
            )
        }


def invoke(project: Path, out: Path, dsn: str, *args: str):
    return CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "--log-format", "json", *args],
        env={
            "ENGINE_SOURCE_DSN": dsn,
            "ENGINE_STATE_DSN": "",
            "ENGINE_OUTPUT_DIR": str(out),
            "ENGINE_CONNECT_RETRIES": "0",
        },
    )


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_hostile_project(row: dict[str, Any], app_db: str, tmp_path: Path) -> None:
    data = AppData(app_db)
    for name in ("Ann", "Bob", "Cid"):
        data.user(name)
    secret = tmp_path / "service-account.json"
    secret.write_text(MARKER + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    row = _fill(row, secret, psycopg.conninfo.conninfo_to_dict(app_db)["dbname"])
    with psycopg.connect(app_db, autocommit=True) as conn:
        for statement in row.get("setup", []):  # what a careless production server has (dblink, ...)
            conn.execute(statement)
    # a session the attack would stop (pg_terminate_backend); it must still answer afterwards
    victim = psycopg.connect(app_db, application_name=row["victim"], autocommit=True) if "victim" in row else None
    project = build(tmp_path / "project", sql=row.get("sql"), audience=row.get("audience"))
    users_before, tables_before = _users_digest(app_db), _tables(app_db)

    for command in row["commands"]:
        args = [*command["args"], "--as-of", AS_OF]
        result = invoke(project, out, app_db, *args)
        shown = result.stdout + result.stderr
        assert result.exit_code == command["exit"], (args, shown[-2000:])
        assert "Traceback" not in shown, (args, shown[-2000:])
        # an uncaught exception reaches CliRunner as itself; every deliberate exit is a SystemExit
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
        if "says" in command:
            assert command["says"] in shown, (args, shown[-2000:])
        if "at" in command:
            assert command["at"] in shown, (args, shown[-2000:])
        assert MARKER not in shown

    # what was NOT done
    if victim is not None:
        with victim:
            assert victim.execute("select 1").fetchone() == (1,), "the victim session was stopped"
    assert _tables(app_db) == tables_before, "a table was created or dropped in the app database"
    assert _users_digest(app_db) == users_before, "users changed"
    assert list(elsewhere.iterdir()) == [], "a file was written outside the run folder"
    assert not Path(f"{secret}.copied").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and out in p.parents]
    for path in written:
        assert MARKER not in path.read_text(errors="replace"), f"secret copied into {path}"
    if row.get("no_output_rows"):
        for path in written:
            if path.suffix == ".csv" and "TEST" not in path.name:
                assert path.read_text().count("\n") <= 1, f"{path.name} has rows: a value became SQL"

    if "validate" in row:
        result = invoke(project, out, app_db, "validate")
        assert result.exit_code == 1, result.stdout + result.stderr
        shown = result.stdout + result.stderr
        assert row["validate"]["rule"] in shown and row["validate"]["at"] in shown, shown[-3000:]
        assert MARKER not in shown
