"""Create the faithful app schema and inspect whether a database already holds app data."""

from __future__ import annotations

import re
from importlib import resources

import psycopg

APP_TABLES: tuple[str, ...] = (
    "users",
    "user_activities",
    "user_preferences",
    "attributes",
    "attribute_values",
    "attribute_preferences",
    "products",
    "product_variants",
    "inventory_items",
    "wishlist_items",
    "desired_items",
    "offers",
    "offer_items",
    "trades",
    "devices",
)


def schema_sql() -> str:
    """The app DDL shipped in the package."""
    return resources.files("engine.appdb").joinpath("schema.sql").read_text(encoding="utf-8")


def declared_columns() -> dict[str, list[str]]:
    """Table -> column names as declared in schema.sql (used by tests and `validate`)."""
    tables: dict[str, list[str]] = {}
    for match in re.finditer(r"CREATE TABLE (\w+) \((.*?)\n\);", schema_sql(), re.S):
        cols = []
        for line in match.group(2).splitlines():
            token = line.strip().split(" ", 1)[0]
            if token and token.upper() not in {"UNIQUE", "PRIMARY", "FOREIGN", "CONSTRAINT", "CHECK"}:
                cols.append(token)
        tables[match.group(1)] = cols
    return tables


def existing_tables(conn: psycopg.Connection) -> set[str]:
    """App tables present in the connection's search_path schema (public)."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        (list(APP_TABLES),),
    ).fetchall()
    return {r[0] for r in rows}


def tables_with_rows(conn: psycopg.Connection) -> dict[str, bool]:
    """For each existing app table, whether it holds at least one row (cheap EXISTS)."""
    out = {}
    for table in sorted(existing_tables(conn)):
        row = conn.execute(
            psycopg.sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(psycopg.sql.Identifier(table))
        ).fetchone()
        out[table] = bool(row and row[0])
    return out


def create_schema(conn: psycopg.Connection, *, replace: bool = False) -> None:
    """Create the app tables; with ``replace`` drop existing ones first (dev databases only)."""
    with conn.transaction():
        if replace:
            for table in reversed(APP_TABLES):
                conn.execute(psycopg.sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(table)))
        conn.execute(schema_sql())
