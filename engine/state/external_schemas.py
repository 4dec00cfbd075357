"""Schemas owned by libraries (procrastinate's job queue), as ``engine migrate`` recorded them: the only
module with SQL on engine.external_schemas."""

from __future__ import annotations

import psycopg
from psycopg.rows import scalar_row


def recorded_version(conn: psycopg.Connection, name: str) -> str | None:
    """The version of library schema ``name`` applied to this database; None when it never was."""
    return (
        conn.cursor(row_factory=scalar_row)
        .execute("SELECT version FROM engine.external_schemas WHERE name = %s", (name,))
        .fetchone()
    )


def record(conn: psycopg.Connection, name: str, version: str) -> None:
    """Remember that library schema ``name`` was applied at ``version`` (in the transaction that applied it)."""
    conn.execute("INSERT INTO engine.external_schemas (name, version) VALUES (%s, %s)", (name, version))
