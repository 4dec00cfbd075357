"""The corpus: every broken project gives exactly its expected, located findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.validate.helpers import CASES, headline, make_project, validate


def test_the_corpus_is_large_and_each_case_breaks_one_thing() -> None:
    assert len(CASES) >= 30
    assert len({c["name"] for c in CASES}) == len(CASES)
    assert all(c["expect"] for c in CASES), "every broken project must report something"


def test_the_base_project_is_clean(tmp_path: Path) -> None:
    report = validate(make_project(tmp_path))
    assert [headline(f) for f in report.findings] == []
    assert report.files == 6  # mini.yaml, 3 SQL files, schedules.yaml, cadence.yaml


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_broken_project(case: dict, tmp_path: Path) -> None:
    report = validate(make_project(tmp_path, case["file"], case["find"], case["replace"]))
    assert [headline(f) for f in report.findings] == case["expect"]
    # style-only lint findings are warnings (the project still validates); anything else fails it
    assert report.ok == all(": warning: " in line for line in case["expect"])
    if "hint" in case:
        assert report.findings[0].hint == case["hint"]


def test_strict_makes_style_rules_errors(tmp_path: Path) -> None:
    project = make_project(tmp_path, "sql/mini/profiles.sql", "from users as u\n", "from users u\n")
    assert [(f.rule, f.severity) for f in validate(project).findings] == [("lint/AL01", "warning")]
    strict = validate(project, strict=True)
    assert [(f.rule, f.severity) for f in strict.findings] == [("lint/AL01", "error")] and not strict.ok
