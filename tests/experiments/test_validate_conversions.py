"""``engine validate`` on conversion SQL (sql/conversions/*.sql) and on the experiment keys of schedules.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import PROJECT_ROOT
from tests.validate.helpers import make_project, validate

REPO_SQL = PROJECT_ROOT / "sql"

AUTOMATION = "    pushes: [mini_closet]\n"


def _project(tmp_path: Path, extra: str = "") -> Path:
    project = make_project(tmp_path, "schedules.yaml", AUTOMATION, AUTOMATION + extra)
    shutil.copytree(REPO_SQL / "conversions", project / "sql" / "conversions")
    shutil.copy(REPO_SQL / "macros" / "live.sql", project / "sql" / "macros" / "live.sql")
    return project


def _lines(project: Path, needle: str) -> int:
    """The 1-based line of schedules.yaml holding ``needle`` (worked out from the file, not the validator)."""
    lines = (project / "schedules.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_the_project_conversions_are_clean(tmp_path: Path) -> None:
    project = _project(tmp_path, "    holdout: {percent: 10}\n    conversions: [{name: created_offer, within: 24h}]\n")
    report = validate(project)
    assert [f for f in report.findings if f.severity == "error"] == []


def test_conversion_sql_findings_are_located(tmp_path: Path) -> None:
    project = _project(tmp_path)
    folder = project / "sql" / "conversions"
    (folder / "clock.sql").write_text(
        "select\n    o.creator_user_id::text as user_id,\n    o.created_at as converted_at\nfrom offers as o\n"
        "where o.created_at > now() - interval '1 day'\n",
        encoding="utf-8",
    )
    (folder / "no_time.sql").write_text(
        "select o.creator_user_id::text as user_id\nfrom offers as o\nwhere o.created_at > {{ window_start }}\n",
        encoding="utf-8",
    )
    (folder / "undefined.sql").write_text(
        "select o.creator_user_id::text as user_id, o.created_at as converted_at\nfrom offers as o\n"
        "where o.created_at > {{ as_of }}\n",
        encoding="utf-8",
    )
    (folder / "in_text.sql").write_text(
        "select o.creator_user_id::text as user_id, o.created_at as converted_at\nfrom offers as o\n"
        "where o.note = '{{ window_start }}'\n",
        encoding="utf-8",
    )
    (folder / "shouting.sql").write_text(
        "SELECT o.creator_user_id::text AS user_id, o.created_at AS converted_at\nFROM offers AS o\n"
        "WHERE o.created_at > {{ window_start }}::timestamptz\n",
        encoding="utf-8",
    )
    found = {(f.path, f.rule): f for f in validate(project).findings}
    clock = found[("sql/conversions/clock.sql", "conversions/clock")]
    assert clock.line == 5 and "now()" in clock.message  # line 5 of the file written above
    missing = found[("sql/conversions/no_time.sql", "conversions/columns")]
    assert "converted_at" in missing.message
    undefined = found[("sql/conversions/undefined.sql", "conversions/render")]
    assert undefined.line == 3 and "as_of" in undefined.message and "window_start" in (undefined.hint or "")
    assert ("sql/conversions/in_text.sql", "sql/value-in-text") in found
    # sqlfluff lints them with the other SQL files (the project's style: lower-case keywords)
    assert any(f.family == "lint" and f.path == "sql/conversions/shouting.sql" for f in found.values())


def test_an_unknown_conversion_is_located_with_a_suggestion(tmp_path: Path) -> None:
    project = _project(tmp_path, "    conversions:\n      - {name: created_ofer, within: 24h}\n")
    [finding] = [f for f in validate(project).findings if f.rule == "conversions/unknown"]
    assert (finding.path, finding.line) == ("schedules.yaml", _lines(project, "created_ofer"))
    assert "did you mean 'created_offer'?" in (finding.hint or "")


def test_experiment_keys_of_schedules_yaml_are_located(tmp_path: Path) -> None:
    cases = {
        "    holdout: {percent: 150}\n": "percent: 150",
        "    holdout: {percent: 10, share: 3}\n": "share: 3",
        "    conversions:\n      - {name: created_offer, within: 1 day}\n": "within: 1 day",
        "    conversions:\n      - {name: created_offer, within: 24h, weight: 2}\n": "weight: 2",
    }
    for index, (extra, needle) in enumerate(cases.items()):
        project = _project(tmp_path / str(index), extra)
        errors = [f for f in validate(project).findings if f.severity == "error" and f.path == "schedules.yaml"]
        assert errors, extra
        assert {f.line for f in errors} == {_lines(project, needle)}, (extra, errors)
