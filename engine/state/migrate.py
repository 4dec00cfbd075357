"""Apply the engine's versioned SQL migrations, idempotently and safely under concurrency.

Migrations are ``NNNN_name.sql`` files in ``engine/state/migrations``, applied in
order, each in its own transaction, under a session advisory lock so that two
processes starting at once apply each file exactly once.

``require_migrated`` is the one check every command makes before it reads or writes the
state database (``connect_state`` opens a connection and makes it): anything short of every
shipped migration is ``NotMigrated`` (exit 2, "run `engine migrate`"), never a psycopg error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import psycopg

from engine.config import Settings
from engine.db import connect
from engine.errors import NotMigrated, StateError

SCHEMA = "engine"
_LOCK_KEY = 0x656E67696E65  # "engine"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """Every migration shipped in the package, ordered by version."""
    found = []
    for entry in resources.files("engine.state").joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(int(version), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StateError(f"duplicate migration versions: {versions}")
    return found


@lru_cache(maxsize=1)
def latest_version() -> int:
    """The highest migration version shipped in the package."""
    return available_migrations()[-1].version


# DSNs found fully migrated by this process: a later connection skips the check (a schema only grows)
_migrated: set[str] = set()


def require_migrated(conn: psycopg.Connection) -> None:
    """NotMigrated unless every shipped migration is applied on ``conn``'s database."""
    dsn = conn.info.dsn
    if dsn in _migrated:
        return
    applied = current_version(conn)
    if not conn.autocommit:
        conn.rollback()  # the check's reads leave no transaction open behind it
    if applied < latest_version():
        detail = (
            "no engine tables" if applied == 0 else f"schema version {applied}, this engine needs {latest_version()}"
        )
        raise NotMigrated(f"the state database is not migrated ({detail})")
    _migrated.add(dsn)


def connect_state(
    settings: Settings, *, retries: int | None = None, autocommit: bool = False, **kwargs: Any
) -> psycopg.Connection:
    """A connection to the state database that ``require_migrated`` passed (closed again if it did not)."""
    conn = connect(
        settings.require_state_dsn(),
        retries=settings.connect_retries if retries is None else retries,
        autocommit=autocommit,
        **kwargs,
    )
    try:
        require_migrated(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply pending migrations on ``conn`` (autocommit or not); return those applied now."""
    applied_now: list[Migration] = []
    previous_autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0]: row[1] for row in conn.execute(f"SELECT version, checksum FROM {SCHEMA}.schema_migrations")}
            for migration in available_migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise StateError(
                            f"migration {migration.version:04d}_{migration.name} changed after it was applied",
                            hint="never edit an applied migration: add a new one",
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        f"INSERT INTO {SCHEMA}.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    finally:
        conn.autocommit = previous_autocommit
    return applied_now


def current_version(conn: psycopg.Connection) -> int:
    """Highest applied migration version, 0 when the schema is missing."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_migrations",)).fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_migrations").fetchone()
    return int(row[0]) if row else 0
