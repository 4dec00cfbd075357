"""Read a schema's tables, views and columns (with their types) from the database's own catalog."""

from __future__ import annotations

from collections.abc import Collection

import psycopg

from engine.catalog.model import Catalog

# tables, partitioned tables, views, materialised views and foreign tables: whatever a query can read
_COLUMNS = """
select c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
from pg_catalog.pg_class as c
inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid
inner join pg_catalog.pg_attribute as a on c.oid = a.attrelid
where
    n.nspname = %(schema)s
    and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and a.attnum > 0
    and not a.attisdropped
    and (%(tables)s::text[] is null or c.relname = any(%(tables)s::text[]))
"""


def read_schema(conn: psycopg.Connection, schema: str, tables: Collection[str] | None = None) -> Catalog:
    """``schema``'s relations (only ``tables`` when given; those it lacks are left out) with every column."""
    found: dict[str, dict[str, str]] = {}
    rows = conn.execute(_COLUMNS, {"schema": schema, "tables": sorted(tables) if tables is not None else None})
    for table, column, type_ in rows.fetchall():
        found.setdefault(table, {})[column] = type_
    return Catalog(schema, found)
