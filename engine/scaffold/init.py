"""``engine init``: a new project that validates and tests green at once, as ``dbt init`` starts one.

The project is the packaged example cut down to one audience (its YAML, test cases, SQL and push
templates) plus the shared macros, queries, cadence rules, source catalog and SQL policy, and the
starter files only a new project has (README for analysts, engine.yaml, CI workflow, .gitignore).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.errors import ConfigError
from engine.scaffold.example import EXAMPLE_DIR, example_files

STARTER_DIR = Path(__file__).with_name("starter")
AUDIENCE = "layer3_recent_activity"  # the example audience a new project starts from
# example files every project shares, by path prefix (sql/tokens: the device-token lookup sends need;
# sql/conversions: the conversions the example automations name)
_SHARED = (
    ".sqlfluff",
    "cadence.yaml",
    "catalog/",
    "sql/macros/",
    "sql/common/",
    "sql/tokens/",
    "sql/conversions/",  # what the automations measure their pushes by (engine impact)
    f"sql/{AUDIENCE}/",
)
_SCHEDULES_HEADER = (
    "# Push templates and automations (`engine validate` checks them; `engine plan --days 7` shows the times).\n"
    "# templates: which audience output a push sends, its layer (cadence.yaml), title, body and deep link;\n"
    "#   [[var:column]] is replaced per row by that CSV column. automations: a cron giving the send time.\n"
)


def _starter_files() -> dict[str, bytes]:
    return {p.relative_to(STARTER_DIR).as_posix(): p.read_bytes() for p in STARTER_DIR.rglob("*") if p.is_file()}


def _schedules(example: bytes) -> bytes:
    """The example's schedules.yaml with only the starting audience's templates and automations."""
    doc = yaml.safe_load(example)
    doc["templates"] = {k: t for k, t in doc.get("templates", {}).items() if t["audience"] == AUDIENCE}
    doc["automations"] = [a for a in doc.get("automations", []) if a["audience"] == AUDIENCE]
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
    return (_SCHEDULES_HEADER + body).encode()


def project_files() -> dict[str, bytes]:
    """Every file of a new project, by path relative to its root."""
    example = example_files(EXAMPLE_DIR)
    files = {name: content for name, content in example.items() if name.startswith(_SHARED)}
    files[f"audiences/{AUDIENCE}.yaml"] = example[f"audiences/{AUDIENCE}.yaml"]
    files[f"audiences/{AUDIENCE}.tests.yaml"] = example[f"audiences/{AUDIENCE}.tests.yaml"]
    files["schedules.yaml"] = _schedules(example["schedules.yaml"])
    return files | _starter_files()


def init_project(target: Path, *, force: bool = False) -> list[str]:
    """Write a new project into ``target`` (created if missing); a non-empty folder only with ``force``."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file, not a folder", hint="name a new or empty folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ConfigError(
            f"{target.resolve()} is not empty",
            hint="name a new or empty folder, or pass --force to write into it (files of the same name are replaced)",
        )
    files = project_files()
    for name, content in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(content)
    return sorted(files)
