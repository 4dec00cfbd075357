"""One owner for the state database: SQL naming an ``engine.*`` table is written only in ``engine/state/``.

The tables are read from the migrations (every ``CREATE TABLE`` / ``VIEW`` of the ``engine`` schema),
so a new table is guarded as soon as it exists. Only SQL text counts: Python string literals (not
docstrings) and ``.sql`` files, not module paths such as ``engine.runs.model``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import PROJECT_ROOT

ENGINE = PROJECT_ROOT / "engine"
STATE = ENGINE / "state"
_CREATED = re.compile(
    r"create\s+(?:or\s+replace\s+)?(?:table|view)\s+(?:if\s+not\s+exists\s+)?engine\.(\w+)", re.IGNORECASE
)


def _tables() -> set[str]:
    return {
        m.group(1).lower()
        for path in (STATE / "migrations").glob("*.sql")
        for m in _CREATED.finditer(path.read_text(encoding="utf-8"))
    }


def _sql_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal of a Python file but docstrings, or the whole of a ``.sql`` file."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".sql":
        return [(1, source)]
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_migrations_name_the_tables() -> None:
    assert {"runs", "sends", "send_items", "automation_runs"} <= _tables()


def test_only_engine_state_writes_sql_on_engine_tables() -> None:
    mention = re.compile(rf"\bengine\.({'|'.join(sorted(_tables()))})\b(?!\.)", re.IGNORECASE)
    found = []
    for path in sorted([*ENGINE.rglob("*.py"), *ENGINE.rglob("*.sql")]):
        if STATE in path.parents:
            continue
        for line, text in _sql_texts(path):
            for match in mention.finditer(text):
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {match.group(0)}")
    assert found == [], (
        "SQL on the state tables outside engine/state/ (give the repository a named query):\n" + "\n".join(found)
    )
