"""procrastinate's own tables, applied by ``engine migrate`` and versioned in engine.external_schemas."""

from __future__ import annotations

from importlib.metadata import version

import psycopg

from engine.config import Settings
from engine.errors import NotMigrated, StateError
from engine.state import external_schemas
from engine.state.migrate import _LOCK_KEY, connect_state

NAME = "procrastinate"


def require_scheduler_state(settings: Settings) -> None:
    """The state database is migrated and holds the job queue's tables (``engine scheduler`` needs both)."""
    with connect_state(settings, autocommit=True) as conn:
        applied = external_schemas.recorded_version(conn, NAME)
    if applied is None:
        raise NotMigrated("the state database is not migrated (no job queue tables)")


def ensure_queue_schema(conn: psycopg.Connection) -> list[str]:
    """Apply procrastinate's schema once (under the migrations' advisory lock); return what was applied."""
    from procrastinate.schema import SchemaManager  # noqa: PLC0415  (only migrate needs it)

    installed = version("procrastinate")
    previous_autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            applied = external_schemas.recorded_version(conn, NAME)
            if applied:
                if applied.split(".")[0] != installed.split(".")[0]:
                    raise StateError(
                        f"the job queue schema is procrastinate {applied}, the engine runs {installed}",
                        hint="apply procrastinate's migrations between them (its sql/migrations), "
                        "then update its version in the engine's external_schemas table",
                    )
                return []
            with conn.transaction():
                conn.execute(SchemaManager.get_schema())
                external_schemas.record(conn, NAME, installed)
            return [f"{NAME} {installed}"]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    finally:
        conn.autocommit = previous_autocommit
