"""A throwaway app database for test cases: created from template0, filled per case, dropped at the end.

Fixture rows name only the columns that matter. The rest take the schema's default, except
that defaults which read the clock or a random source (``now()``, ``gen_random_uuid()``) are
replaced so a case is repeatable: timestamps become the case's ``as_of`` and ids a uuid derived
from the table and row number. NOT NULL columns without a default get a generated value
(``<column>-<n>`` text, 0, false, ``{}``). A uuid column may hold a readable alias (``ann``,
``panda``): it is stored as a uuid derived from the alias, and shown as the alias again in diffs.
Foreign keys are not enforced while loading (``session_replication_role = replica``), so a case
gives only the rows it is about. Timestamps may be written relative to as_of: ``as_of - 20h``.
"""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterator, Mapping

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.types.json import Jsonb

from engine.appdb.schema import APP_TABLES, create_schema
from engine.db import connect
from engine.errors import SourceLocation, SpecError

_ALIAS_NS = uuid.UUID("6f1d3c2e-8a4b-4c1e-9f7a-2b5d0e3a1c90")
_RELATIVE = re.compile(r"^\s*as_of\s*(?:([+-])\s*(\d+(?:\.\d+)?)\s*([smhdw]))?\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_VOLATILE = ("now()", "gen_random_uuid()", "CURRENT_TIMESTAMP", "uuid_generate_v4()")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # information_schema data_type
    nullable: bool
    default: str | None

    @property
    def volatile_default(self) -> bool:
        return self.default is not None and any(v.lower() in self.default.lower() for v in _VOLATILE)


class Aliases:
    """Readable names for uuids (both ways), shared by a case's fixtures, params and expected rows."""

    def __init__(self) -> None:
        self.to_name: dict[str, str] = {}

    def uuid_for(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            made = str(uuid.uuid5(_ALIAS_NS, value))
            self.to_name[made] = value
            return made

    def name(self, text: str) -> str:
        return self.to_name.get(text, text)


def relative_time(value: Any, as_of: datetime) -> Any:
    """``as_of``, ``as_of - 20h``, ``as_of + 3d`` -> a datetime; anything else unchanged."""
    match = _RELATIVE.match(value) if isinstance(value, str) else None
    if not match:
        return value
    sign, amount, unit = match.groups()
    if sign is None:
        return as_of
    delta = timedelta(**{_UNITS[unit]: float(amount)})
    return as_of + delta if sign == "+" else as_of - delta


@contextmanager
def throwaway_database(admin_dsn: str, *, retries: int = 3) -> Iterator[str]:
    """A new database with the app schema; dropped (even on failure) when the block ends."""
    name = f"ae_cases_{uuid.uuid4().hex[:12]}"
    with connect(admin_dsn, autocommit=True, retries=retries) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        dsn = make_conninfo(admin_dsn, dbname=name)
        with psycopg.connect(dsn) as conn:
            create_schema(conn)
        yield dsn
    finally:
        with connect(admin_dsn, autocommit=True, retries=retries) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def table_columns(conn: psycopg.Connection) -> dict[str, dict[str, Column]]:
    """App table -> column name -> its type, nullability and default, read from the database."""
    rows = conn.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES', column_default "
        "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY(%s) "
        "ORDER BY table_name, ordinal_position",
        (list(APP_TABLES),),
    ).fetchall()
    out: dict[str, dict[str, Column]] = {}
    for table, column, kind, nullable, default in rows:
        out.setdefault(table, {})[column] = Column(column, kind, nullable, default)
    return out


def _generated(table: str, column: Column, n: int, as_of: datetime) -> Any:
    """A repeatable value for a column the fixture left out (None: let the schema default apply)."""
    if column.default is not None and not column.volatile_default:
        return None
    if column.default is None and column.nullable:
        return None
    if column.type == "uuid":
        return str(uuid.uuid5(_ALIAS_NS, f"{table}.{column.name}#{n}"))
    if column.type.startswith("timestamp") or column.type == "date":
        return as_of
    if column.type in {"integer", "bigint", "smallint", "numeric", "double precision", "real"}:
        return 0
    if column.type == "boolean":
        return False
    if column.type in {"json", "jsonb"}:
        return Jsonb({})
    return f"{column.name}-{n}"


def _value(column: Column, raw: Any, as_of: datetime, aliases: Aliases) -> Any:
    if column.type == "uuid":
        return aliases.uuid_for(raw)
    if column.type in {"json", "jsonb"} and raw is not None:
        return Jsonb(raw)
    if column.type.startswith("timestamp") or column.type == "date":
        return relative_time(raw, as_of)
    return raw


def load_fixtures(
    dsn: str,
    fixtures: Mapping[str, tuple[Mapping[str, Any], ...]],
    *,
    as_of: datetime,
    aliases: Aliases,
    columns: dict[str, dict[str, Column]],
    where: SourceLocation,
) -> None:
    """Empty every app table, then insert the case's rows (one transaction, foreign keys not checked)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(sql.Identifier(t) for t in APP_TABLES)))
        for table, rows in fixtures.items():
            for n, row in enumerate(rows, start=1):
                values = {name: _generated(table, col, n, as_of) for name, col in columns[table].items()}
                values = {k: v for k, v in values.items() if v is not None}
                values.update({k: _value(columns[table][k], v, as_of, aliases) for k, v in row.items()})
                statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, values)),
                    sql.SQL(", ").join(sql.Placeholder(k) for k in values),
                )
                try:
                    conn.execute(statement, values)
                except psycopg.Error as err:
                    message = (err.diag.message_primary or str(err)).strip()
                    raise SpecError(
                        f"fixture row {n} of {table}: {message}",
                        location=where,
                        hint="check the values against the column types in engine/appdb/schema.sql",
                    ) from None
