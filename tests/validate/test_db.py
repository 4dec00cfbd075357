"""`engine validate --db`: queries prepared on a real PostgreSQL with the app schema, never run."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from engine.config import resolve
from engine.errors import DatabaseUnavailable
from engine.render.env import make_environment
from engine.render.model import RenderedQuery
from engine.validate.audiences import load_entries
from engine.validate.dbcheck import prepare
from engine.validate.findings import Findings
from engine.validate.render import render_queries
from engine.validate.runner import validate_project
from engine.validate.sqlcolumns import infer_columns
from tests.conftest import PROJECT_ROOT
from tests.validate.helpers import headline, make_project, validate


def test_project_queries_prepare_and_inferred_columns_match_the_database(app_db: str) -> None:
    report = validate(PROJECT_ROOT, db=True, dsn=app_db)
    assert [headline(f) for f in report.findings] == []
    findings = Findings(PROJECT_ROOT)
    env = make_environment(PROJECT_ROOT / "sql")
    compared = 0
    with psycopg.connect(app_db, autocommit=True) as conn:
        for entry in load_entries(PROJECT_ROOT, findings):
            assert entry.spec is not None
            for name, rendered in render_queries(findings, env, PROJECT_ROOT / "sql", entry.spec).items():
                described = prepare(conn, rendered).columns
                assert described is not None, (entry.name, name)
                assert infer_columns(rendered.sql) == described, (entry.name, name)
                compared += 1
    # every query of every audience was compared (counted from the specs, whatever the project holds)
    assert compared == sum(
        len(entry.spec.queries)
        for entry in load_entries(PROJECT_ROOT, Findings(PROJECT_ROOT))
        if entry.spec is not None
    )
    assert findings.sorted() == []


def test_nothing_is_executed(app_db: str) -> None:
    # a query that fails as soon as it is planned or run (1 / 0 is folded by the planner) only
    # prepares: parse and analysis pass, so neither planning nor execution happened
    with psycopg.connect(app_db, autocommit=True) as conn:
        answer = prepare(conn, RenderedQuery(name="q", sql="select 1 / 0 as boom from users", params={}, origin="x"))
    assert answer.columns == ("boom",)


@pytest.mark.parametrize(
    "file, find, replace, expected",
    [
        # a misspelt column in the WHERE clause: reported at its own line and column in the SQL file
        (
            "sql/mini/activity.sql",
            "    and ii.status = 'OPEN_FOR_TRADE'",
            "    and ii.statuss = 'OPEN_FOR_TRADE'",
            "sql/mini/activity.sql:13:9: error: column ii.statuss does not exist [42703] (audience 'mini', query "
            "'activity', prepared on the database) [db/unknown-column]",
        ),
        # an unknown table
        (
            "sql/mini/profiles.sql",
            "from users as u",
            "from user_accounts as u",
            "sql/mini/profiles.sql:6:6: error: relation \"user_accounts\" does not exist [42P01] (audience 'mini', "
            "query 'profiles', prepared on the database) [db/unknown-table]",
        ),
        # a mistake inside a macro is reported in the macro file, under the misspelt name
        (
            "sql/macros/people.sql",
            "{{ alias }}.deleted_at = 0",
            "{{ alias }}.deleted = 0",
            "sql/macros/people.sql:3:17: error: column u.deleted does not exist [42703] (audience 'mini', query "
            "'profiles', prepared on the database) [db/unknown-column]",
        ),
    ],
)
def test_database_errors_point_at_the_sql_source(
    app_db: str, tmp_path: Path, file: str, find: str, replace: str, expected: str
) -> None:
    project = make_project(tmp_path, file, find, replace)
    assert {f.family for f in validate(project).findings} == {"catalog"}  # without --db: the catalog sees it
    report = validate(project, db=True, dsn=app_db)  # with it: the database's own error, once
    assert [headline(f) for f in report.findings] == [expected]


def test_unreachable_database_is_exit_3_material(tmp_path: Path) -> None:
    settings = resolve(
        {
            "project_dir": make_project(tmp_path),
            "connect_retries": 0,
            "source_dsn": "postgresql://postgres@127.0.0.1:1/nothing",
        },
        env={},
    )
    with pytest.raises(DatabaseUnavailable) as caught:
        validate_project(settings, db=True, cache=False)
    assert caught.value.exit_code == 3
