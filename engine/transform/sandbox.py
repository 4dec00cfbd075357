"""DuckDB as a sandbox for spec SQL (segments, metrics, transform): no files, one statement each.

Spec SQL is untrusted text. Its DuckDB connection has external access disabled (no file,
extension or network reads or writes, except the run folder the engine's own CSVs go to)
and its configuration locked, so no later statement can undo that. Each fragment is checked
to be one expression or one query before it is pasted into the engine's SQL.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import duckdb

from engine.errors import EngineError
from engine.sqltext import ShapeError, check_one_statement, spans

# table/scalar functions that read files, URLs or the environment, and statements that do
FILE_FUNCTIONS = re.compile(
    r"\b(read_(?:csv|csv_auto|parquet|json|json_auto|json_objects|ndjson|ndjson_auto|ndjson_objects|text|blob|xlsx)"
    r"|parquet_(?:scan|metadata|schema|file_metadata|kv_metadata)|sniff_csv|glob|getenv|iceberg_scan|delta_scan"
    r"|sqlite_scan|postgres_scan|mysql_scan|copy|attach|install|load|export|import|pragma)\b", re.IGNORECASE)


class SandboxError(EngineError):
    """Spec SQL tried to be more than one expression/query, or to reach outside DuckDB."""


def connect(allowed_dir: Path | None = None, *, threads: int = 2) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can touch no file outside ``allowed_dir``, its settings locked."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")   # loads ICU before the doors close
    con.execute(f"SET threads = {int(threads)}")
    if allowed_dir is not None:
        folder = str(allowed_dir.resolve()).rstrip("/") + "/"
        con.execute("SET allowed_directories = ?", [[folder]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def check_fragment(sql: str, what: str, *, expression: bool) -> str:
    """``sql`` unchanged when it is one expression (``expression``) or one query; else SandboxError.

    A query must be a SELECT as DuckDB's own parser reads it: a metric or transform that creates,
    replaces or deletes (``CREATE OR REPLACE VIEW audience ...``) would change the rows the outputs
    are written from, even without any file access.
    """
    try:
        check_one_statement(sql.strip().rstrip(";") if not expression else sql, expression=True)
    except ShapeError as err:
        raise SandboxError(f"{what}: {err.message}", hint=err.hint) from None
    if not expression:
        try:
            with _PARSE_LOCK:      # one connection: audiences of a run are checked from several threads
                kinds = [statement.type for statement in _parser().extract_statements(sql)]
        except duckdb.Error as err:
            raise SandboxError(f"{what}: {str(err).splitlines()[0]}") from None
        if kinds != [duckdb.StatementType.SELECT]:
            found = ", ".join(kind.name for kind in kinds) or "nothing"
            raise SandboxError(f"{what} must be one query (SELECT, WITH ... SELECT, FROM ...), not {found}",
                               hint="metrics and transforms read the audience; they cannot change it")
    return sql


_PARSER: list[duckdb.DuckDBPyConnection] = []
_PARSE_LOCK = threading.Lock()


def _parser() -> duckdb.DuckDBPyConnection:
    """A connection used only to parse (it holds no data); one per process."""
    if not _PARSER:
        _PARSER.append(duckdb.connect(":memory:"))
    return _PARSER[0]


def file_functions(sql: str) -> list[str]:
    """Names of file-reading functions or statements used in the code (not literals) of ``sql``."""
    try:
        parts = spans(sql)
    except ShapeError:
        return []
    found: list[str] = []
    for span in parts:
        if span.kind == "code":
            found.extend(m.group(1).lower() for m in FILE_FUNCTIONS.finditer(sql, span.start, span.end))
    return list(dict.fromkeys(found))
