"""DuckDB as a sandbox for spec SQL (segments, metrics, transform): no files, one SELECT each.

Spec SQL is untrusted text. Its DuckDB connection has external access disabled (no file,
extension or network reads or writes, except the run folder the engine's own CSVs go to),
its spill folder private to the run, and its configuration locked, so no later statement can
undo that. Each fragment is judged on DuckDB's own parse tree (``json_serialize_sql``), exactly
as it is pasted into the engine's SQL: a segment is one expression, a metric or transform one
SELECT, and none calls a function the policy refuses (``engine/policy/refused_functions.yaml``)
or reads a file by name (``FROM 'x.csv'``).
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import EngineError
from engine.policy.functions import refusal

_PATH_CHARACTERS = set("/\\.:~*?")
_POLICY_HINT = "the refused functions are listed, with a reason each, in engine/policy/refused_functions.yaml"


class SandboxError(EngineError):
    """Spec SQL tried to be more than one expression/query, or to reach outside DuckDB."""

    def __init__(self, message: str, *, hint: str | None = None, rule: str = "sql/one-statement") -> None:
        super().__init__(message, hint=hint)
        self.rule = rule


def connect(allowed_dir: Path | None = None, *, threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can touch no file outside ``allowed_dir``, its settings locked.

    DuckDB allows its own spill folder automatically (``<cwd>/.tmp`` by default, where any file
    could be read back): it is a fresh private folder instead, removed when the process exits.
    """
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")  # loads ICU before the doors close
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET temp_directory = ?", [_spill_folder()])
    if allowed_dir is not None:
        folder = str(allowed_dir.resolve()).rstrip("/") + "/"
        con.execute("SET allowed_directories = ?", [[folder]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


_SPILL: list[tempfile.TemporaryDirectory[str]] = []


def _spill_folder() -> str:
    """One private (mode 0700) spill folder per process for every sandbox connection."""
    if not _SPILL:
        _SPILL.append(tempfile.TemporaryDirectory(prefix="engine-duckdb-spill-"))
    return _SPILL[0].name


@lru_cache(maxsize=1024)  # a segment is checked again at each use (counts, thresholds, every output)
def check_fragment(sql: str, what: str, *, expression: bool) -> str:
    """The text to paste (a query loses trailing ``;`` and blanks) when it is one expression or one SELECT.

    Raises SandboxError otherwise. A query must be a SELECT as DuckDB's own parser reads it: a
    metric or transform that creates, replaces or deletes (``CREATE OR REPLACE VIEW audience ...``)
    would change the rows the outputs are written from, even without any file access. A segment
    is checked inside the parentheses it is pasted into, so it cannot close them.
    """
    text = sql if expression else sql.strip().rstrip(";").rstrip()
    tree = _tree(f"SELECT ({text})" if expression else text, what, expression)
    statements = tree.get("statements", [])
    if len(statements) != 1:
        raise SandboxError(
            f"{what} is more than one statement: DuckDB's parser reads {len(statements)}", hint=_shape_hint(expression)
        )
    node = statements[0]["node"]
    if expression and not _one_expression(node):
        raise SandboxError(
            f"{what} must be one SQL expression (DuckDB reads more than one)", hint=_shape_hint(expression)
        )
    for message in _refused(node, what):
        raise SandboxError(message, hint=_POLICY_HINT, rule="sql/refused-function")
    return text


def _shape_hint(expression: bool) -> str:
    return (
        "a segment or threshold is one SQL expression over the audience's columns"
        if expression
        else "metrics and transforms read the audience; they cannot change it"
    )


def _tree(sql: str, what: str, expression: bool) -> dict[str, Any]:
    """DuckDB's own parse of ``sql`` (SELECT statements only) as JSON; SandboxError for anything else."""
    with _PARSE_LOCK:  # one connection: audiences of a run are checked from several threads
        raw = _parser().execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
        tree: dict[str, Any] = json.loads(raw[0]) if raw else {}
        if not tree.get("error"):
            return tree
        try:
            kinds = [statement.type.name for statement in _parser().extract_statements(sql)]
        except duckdb.Error as err:
            raise SandboxError(f"{what}: {str(err).splitlines()[0]}") from None
    if len(kinds) > 1:
        raise SandboxError(
            f"{what} is more than one statement: DuckDB's parser reads {', '.join(kinds)}", hint=_shape_hint(expression)
        )
    found = "".join(kinds) or "nothing"
    raise SandboxError(
        f"{what} must be one query (SELECT, WITH ... SELECT, FROM ...), not {found}", hint=_shape_hint(expression)
    )


def _one_expression(node: dict[str, Any]) -> bool:
    """``SELECT (fragment)`` is one select-list entry and nothing else: no FROM, WHERE, WITH, UNION ..."""
    return (
        node.get("type") == "SELECT_NODE"
        and len(node.get("select_list", [])) == 1
        and node.get("from_table", {}).get("type") == "EMPTY"
        and not node.get("modifiers")
        and not node.get("cte_map", {}).get("map")
        and not node.get("group_expressions")
        and all(node.get(key) is None for key in ("where_clause", "having", "qualify", "sample"))
    )


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _dicts(child)
    elif isinstance(value, list):
        for child in value:
            yield from _dicts(child)


def _refused(node: dict[str, Any], what: str) -> Iterator[str]:
    """A message for each refused function call or file read by name in a DuckDB parse tree."""
    for item in _dicts(node):
        if item.get("class") == "FUNCTION" and not item.get("is_operator"):
            refused = refusal("duckdb", str(item.get("function_name", "")))
            if refused:
                yield refused.message(what)
        elif item.get("type") == "BASE_TABLE" and _PATH_CHARACTERS & set(str(item.get("table_name", ""))):
            yield (
                f"{what} reads {item['table_name']!r} by name: spec SQL reads the audience's tables, "
                "never files (DuckDB would scan it as a file)"
            )


_PARSER: list[duckdb.DuckDBPyConnection] = []
_PARSE_LOCK = threading.Lock()


def _parser() -> duckdb.DuckDBPyConnection:
    """A connection used only to parse (it holds no data); one per process."""
    if not _PARSER:
        _PARSER.append(duckdb.connect(":memory:"))
    return _PARSER[0]
