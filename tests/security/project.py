"""A small hostile-project builder: one audience over ``users`` that each red-team row bends."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import PROJECT_ROOT

BASE_AUDIENCE: dict[str, Any] = {
    "name": "target",
    "description": "A red-team target: users by first name.",
    "layer": 2,
    "params": {
        "name": {"type": "string", "default": "nobody-has-this-name"},
        "n": {"type": "integer", "default": 1},
        "x": {"type": "number", "default": 1.5},
    },
    "queries": [{"name": "users", "sql": "target/users.sql"}],
    "audience": {"from": "users"},
    "segments": {"everyone": "true"},
    "outputs": [
        {
            "name": "all",
            "file": "target_{timestamp}.csv",
            "order_by": [{"column": "user_id"}],
            "columns": {"user_id": "user_id", "first_name": "first_name"},
            "test": {"file": "TEST_target_{timestamp}.csv"},
        }
    ],
}

# The base audience with a second output: a run writes two CSVs (a failure can strike between them).
TWO_OUTPUTS: dict[str, Any] = {
    "outputs": [
        {
            "name": "all",
            "file": "target_{timestamp}.csv",
            "order_by": [{"column": "user_id"}],
            "columns": {"user_id": "user_id", "first_name": "first_name"},
            "test": {"file": "TEST_target_{timestamp}.csv"},
        },
        {
            "name": "second",
            "file": "second_{timestamp}.csv",
            "order_by": [{"column": "user_id"}],
            "columns": {"user_id": "user_id"},
        },
    ]
}

BASE_SQL = """\
select
    u.id as user_id,
    u.first_name
from users as u
where u.first_name = {{ name }}::text
"""


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return copy.deepcopy(patch)


def build(
    root: Path, *, sql: str | None = None, audience: dict[str, Any] | None = None, files: dict[str, str] | None = None
) -> Path:
    """A project in ``root``: the real project's sql/ macros, plus the target audience bent by the row."""
    shutil.copytree(PROJECT_ROOT / "sql", root / "sql")
    (root / "audiences").mkdir()
    (root / "sql" / "target").mkdir()
    (root / "sql" / "target" / "users.sql").write_text(sql if sql is not None else BASE_SQL)
    spec = _merge(BASE_AUDIENCE, audience or {})
    (root / "audiences" / "target.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root
