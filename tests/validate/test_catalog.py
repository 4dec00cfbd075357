"""`engine catalog pull` on a real database built from engine/appdb/schema.sql, and what validate does with it.

The typos the catalog catches offline are rows of corpus.yaml (tables, columns, macros, bare columns).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from engine import api
from engine.appdb.schema import APP_TABLES
from engine.catalog.store import CATALOG_FILE
from engine.cli.main import cli
from engine.config import resolve
from tests.conftest import PROJECT_ROOT
from tests.validate.helpers import BASE, headline, make_project, validate


def _sources_of(project: Path, tmp_path: Path) -> Path:
    """A copy of ``project``'s audiences and SQL, with no catalog yet."""
    copy = tmp_path / project.name
    for folder in ("audiences", "sql"):
        shutil.copytree(project / folder, copy / folder)
    return copy


def test_committed_catalogs_are_what_pull_writes_from_schema_sql(app_db: str, tmp_path: Path) -> None:
    for project in (PROJECT_ROOT, BASE):
        copy = _sources_of(project, tmp_path)
        settings = resolve({"project_dir": copy, "source_dsn": app_db}, env={})
        first = api.pull_catalog(settings)
        written = (copy / CATALOG_FILE).read_text(encoding="utf-8")
        assert first.changed and not first.missing
        # regenerate with: ENGINE_SOURCE_DSN=<database built from schema.sql> engine catalog pull
        assert written == (project / CATALOG_FILE).read_text(encoding="utf-8"), project
        again = api.pull_catalog(settings)  # stable: the same database gives the same bytes
        assert not again.changed and (copy / CATALOG_FILE).read_text(encoding="utf-8") == written
        assert (again.tables, again.columns) == (first.tables, first.columns)


def test_pull_all_of_a_schema_and_tables_the_database_lacks(app_db: str, tmp_path: Path) -> None:
    project = make_project(
        tmp_path, "sql/mini/activity.sql", "from inventory_items as ii", "from inventory_itmes as ii"
    )
    (project / CATALOG_FILE).unlink()
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["--project-dir", str(project), "catalog", "pull"],
        env={"ENGINE_SOURCE_DSN": app_db},
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert result.stdout == "wrote catalog/source.yaml (3 tables, 58 columns of schema public)\n"
    assert result.stderr == "warning: the project's SQL reads 'inventory_itmes', which schema 'public' does not have\n"
    every = runner.invoke(
        cli,
        ["--project-dir", str(project), "--json", "catalog", "pull", "--all"],
        env={"ENGINE_SOURCE_DSN": app_db},
        catch_exceptions=False,
    )
    assert every.exit_code == 0
    payload = json.loads(every.stdout)
    assert payload["ok"] and payload["changed"] and payload["missing"] == []
    assert payload["tables"] == len(APP_TABLES)
    # then validate sees the typo offline, with the right suggestion
    report = validate(project)
    assert [(f.rule, f.hint.split("?")[0]) for f in report.findings if f.hint] == [
        ("catalog/unknown-table", "did you mean 'inventory_items'")
    ]


def test_with_a_database_validate_warns_where_the_catalog_is_stale(app_db: str, tmp_path: Path) -> None:
    project = make_project(
        tmp_path,
        "catalog/source.yaml",
        "    first_name: character varying(255)\n",
        "    first_name: text\n    nickname: text\n",
    )
    with (project / CATALOG_FILE).open("a", encoding="utf-8") as handle:
        handle.write("  ghosts:\n    id: uuid\n")
    report = validate(project, db=True, dsn=app_db)
    assert [headline(f) for f in report.findings] == [
        "catalog/source.yaml:70:17: warning: column users.first_name is character varying(255) in the database, "
        "text in the catalog [catalog/stale]",
        "catalog/source.yaml:71:5: warning: column users.nickname is in the catalog but not in the database "
        "[catalog/stale]",
        "catalog/source.yaml:82:3: warning: table 'ghosts' is in the catalog but not in schema 'public' of the "
        "database [catalog/stale]",
    ]
    assert report.ok  # warnings: the queries themselves prepared fine
    assert validate(project).findings == ()  # offline nothing can say the catalog is stale


def test_a_malformed_catalog_is_one_located_finding(tmp_path: Path) -> None:
    project = make_project(tmp_path, "catalog/source.yaml", "schema: public\n", "schema: public\nviews: {}\n")
    assert [headline(f) for f in validate(project).findings] == [
        "catalog/source.yaml:5:1: error: unknown key 'views' in (top level) [catalog/file]"
    ]
