"""Run a RenderedQuery through ``COPY ... TO STDOUT`` and parse it into an Arrow table.

Rows never become Python tuples: psycopg streams PostgreSQL's CSV into a buffer that
pyarrow parses in C. Column types come from describing the query (``LIMIT 0``). Values
are bound on the server (``engine.sources.binding``): never SQL text, even inside ``COPY``.
Timestamps arrive as text and are typed in DuckDB, which reads PostgreSQL's ``+00``.
"""

from __future__ import annotations

import io
from typing import Callable

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

from engine.db import translate_query_error
from engine.errors import QueryError, SourceLocation
from engine.pgquery import ShapeError
from engine.render.model import RenderedQuery
from engine.sources.binding import ServerBound, bind_statement, param_types, server_bound

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


Locator = Callable[[RenderedQuery, int], SourceLocation]
"""Where character ``offset`` of a rendered query was written in the project's .sql files."""


def _query_error(
    err: psycopg.Error | ShapeError, rendered: RenderedQuery, offset: int | None, locator: Locator | None
) -> QueryError:
    """A QueryError located at the ``.sql`` line (template or macro) the failing text came from."""
    if isinstance(err, ShapeError):
        error = QueryError(f"query {rendered.name!r} ({rendered.origin}): {err.message}", hint=err.hint)
    else:
        error = translate_query_error(err, what=f"query {rendered.name!r} ({rendered.origin})")
    if offset is not None and 0 <= offset <= len(rendered.sql):
        error.location = locator(rendered, offset) if locator else SourceLocation(rendered.origin)
    return error


def _error_offset(err: psycopg.Error, bound: ServerBound | None, prefix: int | None) -> int | None:
    """The rendered-SQL offset of PostgreSQL's error position in a text wrapped by ``prefix`` chars."""
    diag = getattr(err, "diag", None)
    position = getattr(diag, "statement_position", None) if diag else None
    if bound is None or prefix is None or not position or not str(position).isdigit():
        return None
    return bound.rendered_offset(int(position) - 1 - prefix)


def fetch_arrow(
    conn: psycopg.Connection, rendered: RenderedQuery, locator: Locator | None = None
) -> tuple[pa.Table, tuple[str, ...]]:
    """Execute ``rendered`` on ``conn`` (inside its read-only transaction): (Arrow table, timestamp columns).

    Values are bound with ``set_config`` first (``engine.sources.binding``); the describe goes through
    the extended protocol, which refuses a second statement: a wall behind ``engine.pgquery``'s parse.
    """
    describe_prefix, copy_prefix = "SELECT * FROM (\n", "COPY (\n"
    bound: ServerBound | None = None
    shape: ServerBound | None = None  # the describe's text (arrays empty), while it runs
    prefix: int | None = None  # the wrapper in front of the query text being executed
    try:
        types = param_types(rendered.params)
        bound = server_bound(rendered.sql, rendered.params, types=types)
        with conn.cursor() as cur:
            if bound.settings:
                cur.execute(*bind_statement(bound))
            # column types do not depend on array contents: describe with empty arrays (no transfer, cheap plan)
            shape = server_bound(rendered.sql, rendered.params, empty_arrays=True, types=types, checked=True)
            prefix = len(describe_prefix)
            cur.execute(f"{describe_prefix}{shape.sql}\n) AS described LIMIT 0", binary=True)
            description = cur.description or []
        names = [d.name for d in description]
        if len(set(names)) != len(names):
            dupes = sorted({n for n in names if names.count(n) > 1})
            raise QueryError(
                f"query {rendered.name!r} returns duplicate column names: {', '.join(dupes)}",
                hint=f"alias them in {rendered.origin}",
            )
        buffer, prefix, shape = io.BytesIO(), len(copy_prefix), None
        with conn.cursor() as cur, cur.copy(f"{copy_prefix}{bound.sql}\n) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buffer.write(chunk)
    except ShapeError as err:
        raise _query_error(
            err, rendered, err.offset + (2 if rendered.sql.startswith("%(", err.offset) else 0), locator
        ) from None
    except psycopg.Error as err:
        offset = _error_offset(err, shape or bound, prefix)
        raise _query_error(err, rendered, offset, locator) from None
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
            column_types=types,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["t"],
            false_values=["f"],
        ),
    )
    return table, ts_cols
