"""Apply the engine's versioned SQL migrations, idempotently and safely under concurrency.

Migrations are ``NNNN_name.sql`` files in ``engine/state/migrations``, applied in
order, each in its own transaction, under a session advisory lock so that two
processes starting at once apply each file exactly once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

from engine.errors import StateError

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
                " applied_at timestamptz NOT NULL DEFAULT now())")
            done = {row[0]: row[1] for row in conn.execute(
                f"SELECT version, checksum FROM {SCHEMA}.schema_migrations")}
            for migration in available_migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise StateError(
                            f"migration {migration.version:04d}_{migration.name} changed after it was applied",
                            hint="never edit an applied migration: add a new one")
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        f"INSERT INTO {SCHEMA}.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum))
                applied_now.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    finally:
        conn.autocommit = previous_autocommit
    return applied_now


def current_version(conn: psycopg.Connection) -> int:
    """Highest applied migration version, 0 when the schema is missing."""
    row = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.schema_migrations",)).fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.schema_migrations").fetchone()
    return int(row[0]) if row else 0
