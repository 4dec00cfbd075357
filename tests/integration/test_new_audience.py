"""Adding an audience is YAML + SQL + a template, no Python: the project-level tests pass on a copy with one more.

The copy gets tests/fixtures/new_audience (the README tutorial's audience, its test cases and its push
template), then ``pytest tests/project`` runs in a subprocess with ENGINE_TEST_PROJECT pointing at it.
The same run on a copy whose new test case expects a wrong row must fail: the tests can tell.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

NEW = PROJECT_ROOT / "tests" / "fixtures" / "new_audience"
PROJECT_FILES = ("audiences", "sql", "schedules.yaml", "cadence.yaml", ".sqlfluff", "engine.yaml")


def copy_with_new_audience(target: Path) -> Path:
    target.mkdir()
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        elif source.exists():
            shutil.copy2(source, target / name)
    shutil.copytree(NEW / "audiences", target / "audiences", dirs_exist_ok=True)
    shutil.copytree(NEW / "sql", target / "sql", dirs_exist_ok=True)
    schedules = (target / "schedules.yaml").read_text(encoding="utf-8")
    assert schedules.count("\ntemplates:\n") == 1
    template = (NEW / "template.yaml").read_text(encoding="utf-8")
    (target / "schedules.yaml").write_text(
        schedules.replace("\ntemplates:\n", "\ntemplates:\n" + template), encoding="utf-8"
    )
    return target


def project_tests(project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ENGINE_TEST_PROJECT": str(project)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/project", "-v", "-n", "0", "-p", "no:cacheprovider", *extra],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_project_tests_pass_on_a_copy_with_a_new_audience(tmp_path: Path) -> None:
    project = copy_with_new_audience(tmp_path / "project")
    proc = project_tests(project)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    # the new audience was enumerated by every per-audience test, not just tolerated
    for test in ("test_compile", "test_preview_writes_nothing", "test_run_writes_what_the_manifest_says"):
        assert f"{test}[wishlist_watchers] PASSED" in proc.stdout, test
    assert "test_yaml_test_cases_pass PASSED" in proc.stdout


def test_a_wrong_expectation_in_the_new_audience_fails_them(tmp_path: Path) -> None:
    project = copy_with_new_audience(tmp_path / "project")
    cases = project / "audiences" / "wishlist_watchers.tests.yaml"
    text = cases.read_text(encoding="utf-8")
    assert text.count("variantID: v1, inventory_count: 2}") == 1
    cases.write_text(text.replace("variantID: v1, inventory_count: 2}", "variantID: v1, inventory_count: 3}"))
    proc = project_tests(project, "-k", "yaml_test_cases")
    assert proc.returncode == 1
    assert "wishlist_watchers.tests.yaml:" in proc.stdout and "inventory_count=3" in proc.stdout
