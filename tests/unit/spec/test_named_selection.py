"""Selecting audiences by name loads only their files; other selectors still load (and check) them all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import api
from engine.config import Settings
from engine.errors import ConfigError, SpecError
from engine.spec.loader import audience_files, named_audience_files
from tests.conftest import PROJECT_ROOT


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the project plus one broken audience file (a YAML syntax error)."""
    for part in ("audiences", "sql"):
        shutil.copytree(PROJECT_ROOT / part, tmp_path / part)
    (tmp_path / "audiences" / "broken.yaml").write_text("name: broken\nqueries: [\n")
    return tmp_path


def test_a_named_audience_runs_past_another_audiences_broken_file(project: Path) -> None:
    settings = Settings(project_dir=project)
    name = audience_files(PROJECT_ROOT)[0].stem  # whichever audience the project holds first
    assert [s.name for s in api.list_audiences(settings, [name])] == [name]
    with pytest.raises(SpecError, match="broken.yaml"):  # a whole-project selection still checks every file
        api.list_audiences(settings, [])


def test_names_that_are_not_one_plain_file_fall_back_to_the_full_load(project: Path) -> None:
    name = audience_files(PROJECT_ROOT)[0].stem
    assert named_audience_files(project, [name, name]) == [project / "audiences" / f"{name}.yaml"]
    for selectors in ([], ["layer:3"], ["tag:trending"], ["../audiences/x"], [f"{name}.tests"], ["no_such"]):
        assert named_audience_files(project, selectors) is None, selectors
    (project / "audiences" / f"{name}.yml").write_text((project / "audiences" / f"{name}.yaml").read_text())
    assert named_audience_files(project, [name]) is None  # .yaml and .yml: the full load names the duplicate
    with pytest.raises(ConfigError, match="no audience named 'no_such'"):
        api.list_audiences(Settings(project_dir=PROJECT_ROOT), ["no_such"])
