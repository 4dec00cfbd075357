"""Run a RenderedQuery through ``COPY ... TO STDOUT`` and parse it into an Arrow table.

Rows never become Python tuples: psycopg streams PostgreSQL's CSV into a buffer that
pyarrow parses in C. Column types come from describing the query (``LIMIT 0``). Values
are bound by psycopg (client-side for COPY, which takes no server-side parameters).
Timestamps arrive as text and are typed in DuckDB, which reads PostgreSQL's ``+00``.
"""

from __future__ import annotations

import io
import re

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import ClientCursor

from engine.db import translate_query_error
from engine.errors import QueryError
from engine.render.model import RenderedQuery

_BOOL, _INTS, _FLOATS, _DATE = {16}, {20, 21, 23, 26}, {700, 701, 1700}, {1082}
TIMESTAMP_OIDS = {1114, 1184}


def _arrow_type(oid: int) -> pa.DataType:
    if oid in _BOOL:
        return pa.bool_()
    if oid in _INTS:
        return pa.int64()
    if oid in _FLOATS:
        return pa.float64()
    if oid in _DATE:
        return pa.date32()
    return pa.string()


def _error_line(err: psycopg.Error, rendered: RenderedQuery, wrapped_offset: int) -> str:
    diag = getattr(err, "diag", None)
    position = getattr(diag, "statement_position", None) if diag else None
    if not position:
        return ""
    index = int(position) - 1 - wrapped_offset
    if 0 <= index <= len(rendered.sql):
        return f" (rendered line {rendered.sql.count(chr(10), 0, index) + 1})"
    return ""


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def _inline(conn: psycopg.Connection, rendered: RenderedQuery) -> str:
    """The SQL with every bound value inlined as a psycopg-adapted literal, each param adapted once.

    COPY takes no server-side parameters. Arrays of well-formed uuids (the bound id lists, often
    100k long) are joined directly: hex digits and dashes need no escaping.
    """
    literals: dict[str, str] = {}
    for key, value in rendered.params.items():
        if isinstance(value, list) and all(isinstance(v, str) and _UUID.fullmatch(v) for v in value):
            literals[key] = "'{" + ",".join(value) + "}'"  # hex and dashes only: nothing to escape
        else:
            literals[key] = ClientCursor(conn).mogrify("%s", [value])
    return _PLACEHOLDER.sub(lambda m: literals[m.group(1)] if m.group(1) else "%", rendered.sql)


def fetch_arrow(conn: psycopg.Connection, rendered: RenderedQuery) -> tuple[pa.Table, tuple[str, ...]]:
    """Execute ``rendered`` on ``conn`` and return (Arrow table, timestamp column names)."""
    describe_prefix = "SELECT * FROM (\n"
    try:
        with conn.cursor() as cur:
            # column types do not depend on array contents: describe with empty arrays (no transfer, cheap plan)
            shapes = {k: ([] if isinstance(v, list) else v) for k, v in rendered.params.items()}
            cur.execute(f"{describe_prefix}{rendered.sql}\n) AS described LIMIT 0", shapes)
            description = cur.description or []
        names = [d.name for d in description]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise QueryError(f"query {rendered.name!r} returns duplicate column names: {', '.join(dupes)}",
                             hint=f"alias them in {rendered.origin}")
        literal_sql = _inline(conn, rendered) if rendered.params else rendered.sql
        buffer = io.BytesIO()
        with conn.cursor() as cur, cur.copy(f"COPY (\n{literal_sql}\n) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buffer.write(chunk)
    except psycopg.Error as err:
        wrapped = translate_query_error(err, what=f"query {rendered.name!r} ({rendered.origin})")
        wrapped.message += _error_line(err, rendered, len(describe_prefix))
        raise wrapped from None
    types = {d.name: _arrow_type(d.type_code) for d in description}
    ts_cols = tuple(d.name for d in description if d.type_code in TIMESTAMP_OIDS)
    schema = pa.schema([(n, types[n]) for n in names])
    if buffer.tell() == 0:
        return schema.empty_table(), ts_cols
    buffer.seek(0)
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True,
            quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"]),
    )
    return table, ts_cols

