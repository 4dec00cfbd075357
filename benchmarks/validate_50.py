"""Benchmark: ``engine validate`` on a generated project of 50 audiences.

Builds a temporary project from the packaged example: its sql/ (macros, common queries), cadence.yaml
and .sqlfluff, plus N copies of the Layer 3 audience (``bench_01`` ...), each with its own SQL
file (a distinct comment, so no two files share a lint result), its own file names and three
push templates and one automation in schedules.yaml. Then times, and prints:

- ``engine validate --no-cache`` as a fresh process (what CI pays: imports included);
- ``validate_project`` in-process without the cache (a cold run's checks);
- ``validate_project`` in-process with a warm cache (an analyst's second run: ``engine.validate.resultcache``).

It asserts nothing (timings on a shared machine are noisy); every run must find no problem.

    .venv/bin/python benchmarks/validate_50.py [--audiences 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from engine.config import resolve
from engine.scaffold.example import EXAMPLE_DIR  # the example project as installed, not the checkout's files
from engine.validate.runner import validate_project

SOURCE = "layer3_recent_activity"


def build_project(folder: Path, count: int) -> Path:
    """A project with ``count`` Layer 3 look-alikes and their schedules."""
    project = folder / "project"
    (project / "audiences").mkdir(parents=True)
    shutil.copytree(EXAMPLE_DIR / "sql" / "common", project / "sql" / "common")
    shutil.copytree(EXAMPLE_DIR / "sql" / "macros", project / "sql" / "macros")
    for name in ("cadence.yaml", ".sqlfluff"):
        shutil.copy(EXAMPLE_DIR / name, project / name)
    spec = (EXAMPLE_DIR / "audiences" / f"{SOURCE}.yaml").read_text(encoding="utf-8")
    sql = (EXAMPLE_DIR / "sql" / SOURCE / "activity.sql").read_text(encoding="utf-8")
    schedules = yaml.safe_load((EXAMPLE_DIR / "schedules.yaml").read_text(encoding="utf-8"))
    templates, automations = {}, []
    for i in range(1, count + 1):
        name = f"bench_{i:02d}"
        text = (
            spec.replace(f"name: {SOURCE}", f"name: {name}")
            .replace(f"sql: {SOURCE}/activity.sql", f"sql: {name}/activity.sql")
            .replace("file: recent-", f"file: {name}-recent-")
            .replace('file: "recent-', f'file: "{name}-recent-')
        )
        (project / "audiences" / f"{name}.yaml").write_text(text, encoding="utf-8")
        (project / "sql" / name).mkdir()
        (project / "sql" / name / "activity.sql").write_text(f"-- benchmark copy {i}\n{sql}", encoding="utf-8")
        pushes = []
        for template_name, template in schedules["templates"].items():
            if template["audience"] == SOURCE:
                templates[f"{name}_{template_name}"] = {**template, "audience": name}
                pushes.append(f"{name}_{template_name}")
        automations.append(
            {
                "id": f"daily_{name}",
                "audience": name,
                "schedule": {"cron": f"{i % 60} 12 * * *", "timezone": "America/Chicago"},
                "pushes": pushes,
            }
        )
    (project / "schedules.yaml").write_text(
        yaml.safe_dump({"templates": templates, "automations": automations}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    return project


def _cli_seconds(project: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "engine", "--project-dir", str(project), "validate", "--no-cache"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"validate found problems:\n{result.stdout}{result.stderr}")
    return seconds


def _inprocess_seconds(project: Path, *, cache: bool) -> float:
    report = validate_project(resolve({"project_dir": project}, env={}), cache=cache)
    if report.findings:
        raise SystemExit(f"validate found {len(report.findings)} problem(s), e.g. {report.findings[0]}")
    return report.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audiences", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as folder:
        project = build_project(Path(folder), args.audiences)
        files = len(list(project.rglob("*.yaml"))) + len(list(project.rglob("*.sql")))
        print(f"project: {args.audiences} audiences, {files} YAML/SQL files, in {project}")
        rows = [
            ("engine validate --no-cache (new process)", [_cli_seconds(project) for _ in range(args.repeat)]),
            ("validate_project, no cache", [_inprocess_seconds(project, cache=False) for _ in range(args.repeat)]),
        ]
        _inprocess_seconds(project, cache=True)  # fill the cache
        rows.append(
            ("validate_project, warm cache", [_inprocess_seconds(project, cache=True) for _ in range(args.repeat)])
        )
        for label, times in rows:
            print(
                f"{label:<44} median {statistics.median(times):6.2f} s   "
                f"(min {min(times):.2f}, max {max(times):.2f}, n={len(times)})"
            )


if __name__ == "__main__":
    main()
