"""The located error of a project file the scheduler could not load: the only module with SQL on
engine.config_errors. Writes are conditional, so among replicas reading the same broken file only the
one that changed the row learns it did (and alerts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row


@dataclass(frozen=True)
class ConfigErrorRow:
    """A broken project file as a replica found it: ``message`` is located (``file:line:col: ...``)."""

    file: str
    message: str
    worker: str
    since: datetime


def record(conn: psycopg.Connection, file: str, message: str, worker: str) -> bool:
    """Persist ``message`` as the error of ``file``; True when it was not already the recorded one."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO engine.config_errors AS e (file, message, worker) VALUES (%s, %s, %s) "
            "ON CONFLICT (file) DO UPDATE SET message = excluded.message, worker = excluded.worker, since = now() "
            "WHERE e.message IS DISTINCT FROM excluded.message RETURNING file",
            (file, message, worker),
        ).fetchone()
    return row is not None


def clear(conn: psycopg.Connection, file: str) -> bool:
    """``file`` loads again; True when an error was recorded (this call cleared it)."""
    with conn.transaction():
        return conn.execute("DELETE FROM engine.config_errors WHERE file = %s", (file,)).rowcount > 0


def current(conn: psycopg.Connection) -> ConfigErrorRow | None:
    """The recorded error, if any file is broken (the oldest first)."""
    return (
        conn.cursor(row_factory=class_row(ConfigErrorRow))
        .execute("SELECT file, message, worker, since FROM engine.config_errors ORDER BY since LIMIT 1")
        .fetchone()
    )
