"""`engine validate`, the command's behaviour (zero findings on the project: tests/project/test_project.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine.cli.main import cli
from tests.conftest import PROJECT_ROOT
from tests.validate.helpers import make_project, validate


def _run(*args: str) -> tuple[int, str]:
    """Exit code and output, without the stderr note about --db (tested on its own below)."""
    result = CliRunner().invoke(cli, list(args), env={"ENGINE_SOURCE_DSN": ""}, catch_exceptions=False)
    return result.exit_code, "".join(
        line for line in result.output.splitlines(keepends=True) if not line.startswith("note: ")
    )


def test_cli_clean_project_exits_0_and_says_when_the_database_is_not_used() -> None:
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(PROJECT_ROOT), "validate", "--no-cache"],
        env={"ENGINE_SOURCE_DSN": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("no problems in ") and result.stdout.rstrip().endswith(" s)")
    # no source database configured: one line on stderr says what the catalog checks and what --db would add
    assert result.stderr.splitlines() == [
        "note: tables and columns are checked against catalog/source.yaml; --db "
        "(or ENGINE_SOURCE_DSN) also prepares every query and says where the "
        "catalog is stale"
    ]


def test_cli_uses_the_configured_database(app_db: str, tmp_path: Path) -> None:
    # a misspelt column: found by the database without --db once ENGINE_SOURCE_DSN is set (and by the catalog)
    project = make_project(
        tmp_path,
        "sql/mini/activity.sql",
        "    and ii.status = 'OPEN_FOR_TRADE'",
        "    and ii.statuss = 'OPEN_FOR_TRADE'",
    )
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "validate", "--no-cache"],
        env={"ENGINE_SOURCE_DSN": app_db},
        catch_exceptions=False,
    )
    assert result.exit_code == 1 and "[db/unknown-column]" in result.stdout and "note:" not in result.stderr
    offline = CliRunner().invoke(
        cli,
        ["--project-dir", str(project), "validate", "--no-cache", "--no-db"],
        env={"ENGINE_SOURCE_DSN": app_db},
        catch_exceptions=False,
    )
    assert offline.exit_code == 1 and "[catalog/unknown-column]" in offline.stdout
    assert "[db/" not in offline.stdout


def test_unused_param_and_test_case_files(tmp_path: Path) -> None:
    declared = "  lookback_days: {type: integer, default: 7, minimum: 1}\n"
    project = make_project(
        tmp_path, "audiences/mini.yaml", declared, declared + "  spare: {type: integer, default: 1}\n"
    )
    (project / "audiences" / "mini.tests.yaml").write_text(
        "cases:\n"
        "  - name: one\n"
        "    as_of: 2026-11-20T12:00:00Z\n"
        "    fixtures:\n"
        "      user: [{id: ann}]\n"  # the table is users
        "    expect:\n"
        "      closet: [{user_id: ann, first_name: Ann}]\n"
    )  # the header is firstName
    code, output = _run("--project-dir", str(project), "validate", "--no-cache", "--no-db")
    assert code == 1
    lines = [line for line in output.splitlines() if ": error: " in line or ": warning: " in line]
    assert lines == [
        "audiences/mini.tests.yaml:5:7: error: unknown app table 'user' [yaml/test-case]",
        "audiences/mini.tests.yaml:7:31: error: unknown header of output 'closet' 'first_name' [yaml/test-case]",
        "audiences/mini.yaml:6:3: warning: param 'spare' is declared but never used [yaml/unused-param]",
    ]


def test_cli_prints_location_source_caret_hint_and_summary(tmp_path: Path) -> None:
    project = make_project(tmp_path, "schedules.yaml", 'title: "[[var:firstName]],', 'title: "[[var:first_name]],')
    code, output = _run("--project-dir", str(project), "validate", "--no-cache")
    assert code == 1
    # the caret sits under the variable: 4 spaces + 'title: "' put it at column 13
    assert output.split("\n")[:4] == [
        "schedules.yaml:6:13: error: template 'mini_closet' uses [[var:first_name]] but output 'closet' of 'mini' "
        "has no such column [templates/unknown-variable]",
        '    6 |     title: "[[var:first_name]], [[var:item_count]] people added your [[var:product_name]]"',
        "      |             ^",
        "  hint: did you mean [[var:firstName]]? headers: user_id, firstName, product_name, item_count",
    ]
    assert output.rstrip().split("\n")[-1].startswith("1 error, 0 warnings in 6 files (")


def test_cli_json(tmp_path: Path) -> None:
    project = make_project(tmp_path, "audiences/mini.yaml", "    segment: recent\n", "    segmnt: recent\n")
    code, output = _run("--project-dir", str(project), "--json", "validate", "--no-cache")
    assert code == 1
    payload = json.loads(output)
    assert (payload["ok"], payload["errors"], payload["warnings"], payload["files"]) == (False, 1, 0, 6)
    assert payload["findings"] == [
        {
            "path": "audiences/mini.yaml",
            "line": 31,
            "col": 5,
            "severity": "error",
            "message": "unknown key 'segmnt' in outputs[0]",
            "rule": "yaml/unknown-key",
            "hint": "did you mean 'segment'?",
            "key_path": "outputs[0].segmnt",
        }
    ]


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    code, output = _run("--project-dir", str(PROJECT_ROOT), "validate", "--select", "layer3_recent_activty")
    assert code == 2 and "no audience named 'layer3_recent_activty'" in output
    assert "did you mean 'layer3_recent_activity'?" in output
    code, output = _run("--project-dir", str(PROJECT_ROOT), "validate", "--select", "rule:spelling")
    assert code == 2 and "unknown check family" in output
    code, output = _run("--project-dir", str(tmp_path), "validate")
    assert code == 2 and "no audiences/ folder" in output


def test_select_rules_and_audiences(tmp_path: Path) -> None:
    # two mistakes: a lint error in SQL and a bad cron
    project = make_project(tmp_path, "schedules.yaml", 'cron: "30 12 * * *"', 'cron: "30 12 * *"')
    sql = project / "sql" / "mini" / "profiles.sql"
    sql.write_text(sql.read_text().replace("from users as u", "from users u"))
    assert [f.rule for f in validate(project).findings] == ["schedules/cron", "lint/AL01"]
    assert [f.rule for f in validate(project, "rule:schedules").findings] == ["schedules/cron"]
    assert [f.rule for f in validate(project, "rule:lint/AL01").findings] == ["lint/AL01"]
    assert [f.rule for f in validate(project, "mini", "rule:lint").findings] == ["lint/AL01"]
    assert validate(project, "rule:columns").findings == ()


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    # a second audience writing the same file names: separate run folders, so only a warning each
    project = make_project(tmp_path)
    text = (project / "audiences" / "mini.yaml").read_text().replace("name: mini\n", "name: mini_copy\n")
    (project / "audiences" / "mini_copy.yaml").write_text(text)
    code, output = _run("--project-dir", str(project), "validate", "--no-cache")
    assert code == 0
    assert output.count("warning: file name") == 2
    assert (
        "audiences/mini_copy.yaml:32:11: warning: file name 'mini-closet_{timestamp}.csv' is also written by "
        "audience 'mini' ('mini-closet_{timestamp}.csv') [names/file-collision]" in output
    )
    assert output.rstrip().split("\n")[-1].startswith("0 errors, 2 warnings in 7 files")


def test_lint_cache_goes_where_ENGINE_LINT_CACHE_DIR_says(tmp_path: Path) -> None:
    # CI keeps this folder between runs; a second run reads it instead of linting again
    cache = tmp_path / "lint-cache"
    env = {"ENGINE_SOURCE_DSN": "", "ENGINE_LINT_CACHE_DIR": str(cache)}
    first = CliRunner().invoke(cli, ["--project-dir", str(PROJECT_ROOT), "validate"], env=env, catch_exceptions=False)
    assert first.exit_code == 0
    entries = sorted(p.name for p in cache.rglob("*.json"))
    assert entries, "no lint results were cached"
    second = CliRunner().invoke(cli, ["--project-dir", str(PROJECT_ROOT), "validate"], env=env, catch_exceptions=False)
    assert second.exit_code == 0 and sorted(p.name for p in cache.rglob("*.json")) == entries
