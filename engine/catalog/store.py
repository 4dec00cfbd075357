"""``catalog/source.yaml``: read it (located errors) and write it the one stable way ``pull`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.catalog.model import Catalog
from engine.documents import Document, load, packaged_schema, schema_problems
from engine.errors import ConfigError

CATALOG_FILE = Path("catalog") / "source.yaml"
_HEADER = """\
# The app database's tables the project's SQL reads, each with every column and its type.
# Written by `engine catalog pull` (run it again after a migration; review the diff like code):
# `engine validate` checks every table and column the audience SQL names against this file.
"""


def _schema() -> dict[str, Any]:
    return packaged_schema("engine.catalog", "source.v1.json")


def load_catalog(project_dir: Path) -> tuple[Catalog, Document] | None:
    """The project's committed catalog and its document (for locations), None when the project has none.

    A malformed file raises a located ConfigError."""
    path = project_dir / CATALOG_FILE
    if not path.exists():
        return None
    doc = load(path, str(CATALOG_FILE), error=ConfigError)
    problems = schema_problems(doc, _schema(), error=ConfigError)
    if problems:
        raise problems[0]
    return Catalog(
        doc.data["schema"],
        {str(table): {str(c): str(t) for c, t in columns.items()} for table, columns in doc.data["tables"].items()},
    ), doc


def dump_catalog(catalog: Catalog) -> str:
    """The file's text: tables and columns sorted, one per line, so a pull's diff is only what changed."""
    body = {
        "schema": catalog.schema,
        "tables": {table: dict(sorted(columns.items())) for table, columns in sorted(catalog.tables.items())},
    }
    return _HEADER + yaml.safe_dump(body, sort_keys=True, default_flow_style=False, allow_unicode=True, width=1000)
