"""The run/list/compile/preview/migrate commands from the outside, on a toy project: flags, exit codes, JSON."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from tests.fixtures.appdata import AppData, ts
from tests.interpreter.test_toy_audience import TOY_YAML, make_project

AS_OF = "2026-11-20T12:00:00Z"

# a second audience that cannot run without --var pick (no default): plain `engine run` skips it
PICKY_YAML = (
    TOY_YAML.replace("name: toy\n", "name: picky\n")
    .replace(
        '  label: {type: string, default: "hot"}\n',
        '  label: {type: string, default: "hot"}\n  pick: {type: uuid, required: true}\n',
    )
    .replace("toy-", "picky-")
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_project(tmp_path / "project")
    (root / "audiences" / "picky.yaml").write_text(PICKY_YAML)
    return root


def invoke(project: Path, *args: str, env: dict[str, str] | None = None):
    runner = CliRunner()
    return runner.invoke(
        cli,
        ["--project-dir", str(project), "--log-format", "json", *args],
        env={"ENGINE_SOURCE_DSN": "", "ENGINE_STATE_DSN": "", **(env or {})},
        catch_exceptions=False,
    )


@pytest.fixture
def toy_dsn(app_db: str) -> str:
    d = AppData(app_db)
    a = d.product("A")
    va = d.variant(a)
    for name in ("U1", "U2"):  # two live wishes on A -> A kept (min_wishes 1), and popular (>= 2)
        d.wishlist(d.user(name), va, created_at=ts("2026-11-01T00:00:00+00:00"))
    d.close()
    return app_db


def test_list_json_names_the_project_audiences(project: Path) -> None:
    result = invoke(project, "--json", "list")
    assert result.exit_code == 0
    assert [a["name"] for a in json.loads(result.stdout)] == ["picky", "toy"]


def test_compile_prints_sql_literals_that_paste_into_psql(project: Path, toy_dsn: str) -> None:
    import psycopg  # noqa: PLC0415

    result = invoke(project, "compile", "toy", "--as-of", AS_OF, "--var", "label=it's")
    assert result.exit_code == 0, result.stderr
    assert "'it''s'::text as label" in result.stdout  # quoted as PostgreSQL quotes it
    assert "'2026-11-20 12:00:00+00:00'::timestamptz" in result.stdout
    assert "%(" not in result.stdout and "datetime.datetime" not in result.stdout
    statements = [s for s in result.stdout.split(";\n") if s.strip()]
    with psycopg.connect(toy_dsn) as conn:  # each statement runs as printed
        rows = [conn.execute(s).fetchall() for s in statements]
    assert rows[0][0][2] == "it's"
    placeholders = invoke(project, "--json", "compile", "toy", "--as-of", AS_OF)
    [products, wishes] = json.loads(placeholders.stdout)
    assert "%(label)s" in products["sql"] and products["params"]["label"] == "'hot'"
    assert wishes["params"]["product_ids"] == "'{}'"  # bound from products at run time: empty here


def test_usage_errors_exit_2(project: Path) -> None:
    bad_var = invoke(project, "compile", "toy", "--var", "min_wishes=soon")
    assert bad_var.exit_code == 2 and "not a valid integer" in bad_var.stderr
    unknown = invoke(project, "run", "--select", "tyo")
    assert unknown.exit_code == 2 and "did you mean 'toy'" in unknown.stderr
    no_dsn = invoke(project, "run", "--select", "toy")
    assert no_dsn.exit_code == 2 and "ENGINE_SOURCE_DSN" in no_dsn.stderr
    missing = invoke(project, "run", "--select", "picky", env={"ENGINE_SOURCE_DSN": "postgresql://x@127.0.0.1:1/x"})
    assert missing.exit_code == 2 and "needs param(s) pick" in missing.stderr
    assert "pass them with --var name=value" in missing.stderr  # a JSON line in --log-format json


def test_unreachable_database_exits_3_without_password(project: Path) -> None:
    result = invoke(
        project,
        "run",
        "--select",
        "toy",
        "--as-of",
        AS_OF,
        env={"ENGINE_SOURCE_DSN": "postgresql://u:topsecret@127.0.0.1:1/app", "ENGINE_CONNECT_RETRIES": "0"},
    )
    assert result.exit_code == 3
    assert "host=127.0.0.1 port=1" in result.stderr and "topsecret" not in result.stderr + result.stdout


def test_plain_run_runs_what_can_run_and_lists_the_rest(project: Path, toy_dsn: str, tmp_path: Path) -> None:
    env = {"ENGINE_SOURCE_DSN": toy_dsn}
    result = invoke(project, "run", "--as-of", AS_OF, "--out", str(tmp_path / "out"), "--json", env=env)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [r["audience"] for r in payload["runs"]] == ["toy"]
    assert payload["skipped"] == [{"audience": "picky", "reason": "needs param(s) pick (no default): --var pick=..."}]
    text = invoke(project, "run", "--as-of", AS_OF, "--out", str(tmp_path / "out2"), env=env)
    assert text.exit_code == 0 and "picky: skipped, needs param(s) pick" in text.stdout
    # every file of a run folder has one mode (CSV, TEST CSV and manifest alike)
    run_dir = Path(payload["runs"][0]["run_dir"])
    assert len({stat.S_IMODE(p.stat().st_mode) for p in run_dir.iterdir()}) == 1


def test_run_json_preview_and_dry_run(project: Path, toy_dsn: str, tmp_path: Path) -> None:
    env = {"ENGINE_SOURCE_DSN": toy_dsn}
    result = invoke(project, "run", "--json", "--select", "toy", "--as-of", AS_OF, "--out", str(tmp_path), env=env)
    assert result.exit_code == 0, result.stderr
    [run] = [r for r in json.loads(result.stdout)["runs"] if r["audience"] == "toy"]
    written = {o["file"]: o["rows"] for o in run["outputs"] if o["status"] == "written"}
    assert written == {"toy-all_20261120_120000.csv": 1, "toy-popular_20261120_120000.csv": 1}
    preview = invoke(project, "preview", "toy", "--as-of", AS_OF, "--json", env=env)  # global option after
    assert preview.exit_code == 0
    assert json.loads(preview.stdout)["preview"]["all_products"]["rows"][0][1] == "A"
    dry = invoke(
        project, "run", "--select", "toy", "--dry-run", "--as-of", AS_OF, "--out", str(tmp_path / "dry"), env=env
    )
    assert dry.exit_code == 0
    assert "toy-all_20261120_120000.csv: 1 rows, would write" in dry.stdout and "written" not in dry.stdout
    assert not (tmp_path / "dry").exists()


def test_migrate_reports_version(empty_db: str, tmp_path: Path) -> None:
    first = invoke(tmp_path, "--json", "migrate", "--dsn", empty_db)
    again = invoke(tmp_path, "migrate", "--dsn", empty_db, "--json")
    assert first.exit_code == again.exit_code == 0
    assert json.loads(first.stdout)["applied"][0] == "0001_init"
    assert json.loads(again.stdout)["applied"] == []


def test_migrate_creates_a_missing_database_and_says_so(pg_admin_dsn: str, tmp_path: Path) -> None:
    import uuid  # noqa: PLC0415

    import psycopg  # noqa: PLC0415
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    name = f"ae_test_migrate_{uuid.uuid4().hex[:10]}"
    dsn = make_conninfo(pg_admin_dsn, dbname=name)
    try:
        first = invoke(tmp_path, "migrate", "--dsn", dsn)
        assert first.exit_code == 0, first.output
        assert first.stdout.startswith("created the database (it did not exist)\n")
        again = invoke(tmp_path, "--json", "migrate", "--dsn", dsn)
        assert json.loads(again.stdout)["created_database"] is False
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_a_missing_database_is_named_and_not_retried(project: Path, pg_admin_dsn: str) -> None:
    import time  # noqa: PLC0415

    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    started = time.monotonic()
    result = invoke(
        project,
        "run",
        "--select",
        "toy",
        "--as-of",
        AS_OF,
        env={
            "ENGINE_SOURCE_DSN": make_conninfo(pg_admin_dsn, dbname="ae_no_such_databse"),
            "ENGINE_CONNECT_RETRIES": "4",
        },
    )
    assert result.exit_code == 2, result.output
    assert "database 'ae_no_such_databse' does not exist on host=" in result.stderr
    assert "attempt" not in result.stderr and time.monotonic() - started < 5  # 4 retries would back off
