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
    assert report.files == 6      # mini.yaml, 3 SQL files, schedules.yaml, cadence.yaml


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_broken_project(case: dict, tmp_path: Path) -> None:
    report = validate(make_project(tmp_path, case["file"], case["find"], case["replace"]))
    assert [headline(f) for f in report.findings] == case["expect"]
    assert not report.ok
    if "hint" in case:
        assert report.findings[0].hint == case["hint"]
