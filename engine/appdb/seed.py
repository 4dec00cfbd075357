"""Deterministic synthetic Tradeblock data for development databases and benchmarks.

The rows are generated inside PostgreSQL by the set-based statements of ``seed.sql``
(hash-based draws, no ``random()``), so a million users take minutes, not hours, and the
same users/seed/as_of always give identical data. Constraints and indexes of the app
tables are dropped for the bulk load and rebuilt afterwards, which is several times faster
than maintaining them row by row (16 s instead of 34 s for 100,000 users here); rebuilding them also
proves the data satisfies them.
Everything happens in one transaction: a failed seed leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from uuid import UUID

import psycopg
from psycopg import sql

from engine.appdb.schema import APP_TABLES, create_schema, existing_tables, tables_with_rows
from engine.errors import ConfigError, SeedRefused
from engine.secrets import describe_server

log = logging.getLogger(__name__)

_STEP = re.compile(r"^-- step: (\w+)\s*$", re.M)


def product_count(users: int) -> int:
    """How many products a seed of ``users`` users has: one per 200 users, at least 200."""
    return max(200, users // 200)


def _seed_base(seed: int) -> int:
    """Map any integer seed to the hash seed space of seed.sql (40 bits, room for salts below)."""
    digest = hashlib.sha256(str(seed).encode()).digest()
    return int.from_bytes(digest[:5], "big") * 4096


def _steps() -> list[tuple[str, str]]:
    """(name, SQL) of each step of seed.sql, in file order."""
    text = resources.files("engine.appdb").joinpath("seed.sql").read_text(encoding="utf-8")
    parts = _STEP.split(text)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


@dataclass(frozen=True)
class _Deferred:
    """DDL to drop the app tables' keys and indexes before a bulk load and to restore them after."""

    drop: tuple[sql.Composable, ...]
    restore: tuple[sql.Composable, ...]


def _deferred_ddl(conn: psycopg.Connection) -> _Deferred:
    """Read the constraints and indexes schema.sql created, so they can be rebuilt after the load."""
    tables = list(APP_TABLES)
    constraints = conn.execute(
        """SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
           FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
           WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
             AND c.contype IN ('p', 'u', 'f')
           ORDER BY c.contype <> 'f', c.conrelid::regclass::text, c.conname""",
        (tables,),
    ).fetchall()
    indexes = conn.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
           WHERE t.relnamespace = current_schema()::regnamespace AND t.relname = ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                             AND c.contype IN ('p', 'u'))
           ORDER BY 1""",
        (tables,),
    ).fetchall()
    foreign = [c for c in constraints if c[2] == "f"]
    keys = [c for c in constraints if c[2] != "f"]

    def drop_constraint(table: str, name: str) -> sql.Composable:
        return sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name))

    def add_constraint(table: str, name: str, definition: str) -> sql.Composable:
        return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.SQL(table), sql.Identifier(name), sql.SQL(definition)
        )

    drop = [drop_constraint(t, n) for t, n, _, _ in foreign + keys] + [
        sql.SQL("DROP INDEX {}").format(sql.SQL(name)) for name, _ in indexes
    ]
    restore = (
        [add_constraint(t, n, d) for t, n, _, d in keys]
        + [sql.SQL(definition) for _, definition in indexes]
        + [add_constraint(t, n, d) for t, n, _, d in foreign]
    )
    return _Deferred(tuple(drop), tuple(restore))


# the mark `engine seed` leaves on the users table: what `engine seed --plant-conversions` asks for before it
# writes made-up rows, so that it never writes them into a database the engine did not fill itself
SYNTHETIC_MARK = "engine seed: synthetic development data"


def mark_synthetic(conn: psycopg.Connection) -> None:
    """Mark the app database as synthetic (``engine seed`` does; a test that fills one by hand may)."""
    conn.execute(sql.SQL("COMMENT ON TABLE users IS {}").format(sql.Literal(SYNTHETIC_MARK)))


def refuse_unless_synthetic(conn: psycopg.Connection) -> None:
    """SeedRefused unless ``engine seed`` filled this database (its users table carries SYNTHETIC_MARK)."""
    mark = conn.execute("SELECT obj_description(to_regclass('users'), 'pg_class')").fetchone()
    if not mark or mark[0] != SYNTHETIC_MARK:
        raise SeedRefused(
            f"refusing to plant made-up conversions in the database at {describe_server(conn.info.dsn)}: "
            "`engine seed` did not fill it",
            hint="plant only in a development database made by `engine seed` (never production)",
        )


def _refuse_if_populated(conn: psycopg.Connection, replace: bool) -> None:
    populated = sorted(t for t, has_rows in tables_with_rows(conn).items() if has_rows)
    if populated and not replace:
        raise SeedRefused(
            f"refusing to seed the database at {describe_server(conn.info.dsn)}: "
            f"its app tables already hold rows ({', '.join(populated)})",
            hint="seed an empty database, or pass --replace to drop and recreate the app tables "
            "(development databases only, never production)",
        )


def _run(
    conn: psycopg.Connection,
    name: str,
    statements: tuple[sql.Composable | str, ...],
    params: dict[str, object] | None = None,
) -> None:
    """Execute statements with client-side binding (seed.sql binds values inside function bodies)."""
    started = time.perf_counter()
    with psycopg.ClientCursor(conn) as cur:
        for statement in statements:
            cur.execute(statement, params)  # type: ignore[arg-type]  # seed.sql is trusted package data
    log.debug("seed step %s took %.2fs", name, time.perf_counter() - started)


def seed_database(
    conn: psycopg.Connection, *, users: int, seed: int, as_of: datetime, replace: bool = False
) -> dict[str, int]:
    """Create the app schema in ``conn``'s database and fill it; return the row count per app table.

    Refuses (``SeedRefused``) when app tables already hold rows, unless ``replace``.
    """
    if users < 1:
        raise ConfigError(f"cannot seed {users} users", hint="pass --users 1 or more")
    anchor = as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)
    params = {"base": _seed_base(seed), "as_of": anchor, "users": users, "products": product_count(users)}
    with conn.transaction():
        _refuse_if_populated(conn, replace)
        create_schema(conn, replace=bool(existing_tables(conn)))
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        deferred = _deferred_ddl(conn)
        _run(conn, "drop_keys", deferred.drop)
        for name, text in _steps():
            _run(conn, name, (text,), params)
        _run(conn, "restore_keys", deferred.restore)
        mark_synthetic(conn)
        for table in APP_TABLES:
            conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        return {
            table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchall()[0][0]
            for table in APP_TABLES
        }


def add_test_users(conn: psycopg.Connection, test_users: tuple[dict[str, str], ...], *, as_of: datetime) -> int:
    """Give each test user (TEST sends' recipients) an account and a device with a token, so TEST sends
    reach them on development data; returns how many were added (existing ones are left alone)."""
    added = 0
    for user in test_users:
        row = conn.execute(
            "INSERT INTO users (id, username, first_name, email, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            (
                user["user_id"],
                f"{user.get('username', 'test')}-dev",
                user.get("firstName"),
                f"{user['user_id']}@test.invalid",
                as_of,
                as_of,
            ),
        ).fetchone()
        conn.execute(
            "INSERT INTO devices (user_id, fingerprint, token, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (user["user_id"], f"test-device-{user['user_id']}", f"test-token-{user['user_id']}", as_of, as_of),
        )
        added += row is not None
    return added


def most_offered_product(conn: psycopg.Connection, *, as_of: datetime, days: int = 7) -> UUID | None:
    """The product with the most distinct offers created in the ``days`` before ``as_of`` (ties: lowest id).

    The deterministic choice of a showcase product for demos and tests; in seeded data it is
    almost always the most popular product, 'Nike Dunk Low "Panda"'.
    """
    row = conn.execute(
        """SELECT pv.product_id FROM offers o
           JOIN offer_items oi ON oi.offer_id = o.id
           JOIN product_variants pv ON pv.id = oi.product_variant_id
           WHERE o.created_at >= %(as_of)s - make_interval(days => %(days)s) AND o.created_at <= %(as_of)s
           GROUP BY pv.product_id
           ORDER BY count(DISTINCT o.id) DESC, pv.product_id
           LIMIT 1""",
        {"as_of": as_of, "days": days},
    ).fetchone()
    return row[0] if row else None
