"""The engine outside its checkout (issue 28): engine init, the project check of every command, the version from
the package metadata, and the packaged example being the repository's own files."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import _COMMAND_MODULES, PROJECT_FREE, cli
from engine.config.project import NOT_A_PROJECT_HINT
from engine.scaffold.example import EXAMPLE_DIR, EXAMPLE_PATHS, example_files

REPO = Path(__file__).resolve().parents[2]

# the fewest arguments each command needs to get past click's own checks (groups: one of their subcommands)
ARGS = {
    "run": [],
    "list": [],
    "preview": ["some_audience"],
    "compile": ["some_audience"],
    "validate": ["--no-db"],
    "send": ["{csv}", "--title", "t", "--body", "b", "--layer", "1", "--dry-run"],
    "cadence": ["rules"],
    "test": [],
    "diff": ["a", "b"],
    "scheduler": [],
    "pause": ["some_automation"],
    "resume": ["some_automation"],
    "cancel": ["some_run"],
    "trigger": ["some_automation"],
    "status": [],
    "plan": [],
    "report": ["--history", "some_audience"],
    "serve": [],
    "catalog": ["pull"],
    "impact": ["some_automation"],
}


def test_every_command_is_either_checked_or_project_free() -> None:
    assert set(ARGS) | PROJECT_FREE == set(_COMMAND_MODULES)
    assert PROJECT_FREE == {"init", "demo", "seed", "migrate"}


@pytest.mark.parametrize("command", sorted(ARGS))
def test_command_outside_a_project_exits_2_with_the_hint(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "users.csv").write_text("user_id\n1\n", encoding="utf-8")
    monkeypatch.chdir(empty)
    args = [a.replace("{csv}", str(tmp_path / "users.csv")) for a in ARGS[command]]
    result = CliRunner().invoke(cli, ["--log-format", "plain", command, *args])
    assert result.exit_code == 2, result.output
    assert f"{empty} is not an audience-engine project" in result.output
    assert NOT_A_PROJECT_HINT in result.output


def test_help_works_outside_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(cli, ["run", "--help"]).exit_code == 0


def test_version_is_the_package_metadata() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"audience-engine, version {version('audience-engine')}"


def test_the_packaged_example_is_the_repository_s_own() -> None:
    # one copy of each file: the package's example/ links to the checkout's root, and reads the same files
    for name in EXAMPLE_PATHS:
        assert (EXAMPLE_DIR / name).is_symlink() and (EXAMPLE_DIR / name).resolve() == (REPO / name).resolve(), name
    assert example_files(EXAMPLE_DIR) == example_files(REPO) and len(example_files(REPO)) > 20


def test_init_into_an_empty_folder_validates_and_tests_green(tmp_path: Path) -> None:
    runner = CliRunner()
    project = tmp_path / "new"
    created = runner.invoke(cli, ["--log-format", "plain", "init", str(project)])
    assert created.exit_code == 0, created.output
    for name in (
        "audiences/layer3_recent_activity.yaml",
        "audiences/layer3_recent_activity.tests.yaml",
        "sql/macros/live.sql",
        "schedules.yaml",
        "cadence.yaml",
        "engine.yaml",
        ".sqlfluff",
        "catalog/source.yaml",
        "README.md",
        ".github/workflows/audiences.yml",
    ):
        assert (project / name).is_file(), name
    workflow = (project / ".github/workflows/audiences.yml").read_text(encoding="utf-8")
    assert "engine --log-format plain validate" in workflow and "engine --log-format plain test" in workflow
    base = ["--log-format", "plain", "--project-dir", str(project)]
    validated = runner.invoke(cli, [*base, "validate", "--strict", "--no-db", "--no-cache"])
    assert validated.exit_code == 0, validated.output
    tested = runner.invoke(cli, [*base, "test"])
    assert tested.exit_code == 0, tested.output
    assert "2 passed, 0 failed" in tested.output


def test_init_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["--log-format", "plain", "init", str(tmp_path)])
    assert refused.exit_code == 2
    assert "is not empty" in refused.output and "--force" in refused.output
    assert not (tmp_path / "audiences").exists()
    forced = CliRunner().invoke(cli, ["--log-format", "plain", "init", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "audiences/layer3_recent_activity.yaml").is_file()
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
