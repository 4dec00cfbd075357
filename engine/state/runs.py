"""Audience runs and their outputs: the only module with SQL on engine.runs and engine.run_outputs.

A run is recorded before it starts (``start_run``, under its advisory lock) and always finished
(``finish_run``, ``fail_run``, or ``abandon_dead_runs`` once its process died); the reads return
``RunRecord`` rows with the manifest parsed.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import psycopg
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from engine.errors import NotMigrated
from engine.runs.model import Manifest, OutputStatus, RunStatus, json_ready
from engine.state.model import LastSuccess, RunRecord


@contextmanager
def state_tables() -> Iterator[None]:
    """Turn "no such table/schema" into the one thing to do: ``engine migrate`` (a table dropped after the
    ``require_migrated`` check a connection passed)."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as err:
        raise NotMigrated(f"the state database is not migrated ({err.diag.message_primary or err})") from None


# the lock key of a run: held by the process running it, for as long as its connection lives
_RUN_KEY = "hashtextextended('engine.run:' || %s::text, 0)"


def start_run(
    conn: psycopg.Connection,
    *,
    run_id: str,
    audience: str,
    params: dict[str, Any],
    as_of: datetime,
    run_dir: str | None,
) -> None:
    """Record a run before it starts, so a crash leaves a visible ``running`` row.

    ``conn`` takes a session advisory lock for the run first: keep it open until the run is
    finished. When the process dies the server drops the lock, and ``abandon_dead_runs`` sees it.
    """
    conn.execute(f"SELECT pg_advisory_lock({_RUN_KEY})", (run_id,))
    conn.commit()
    with state_tables(), conn.transaction():
        conn.execute(
            "INSERT INTO engine.runs (id, audience, params, as_of, status, run_dir) VALUES (%s, %s, %s, %s, %s, %s)",
            (run_id, audience, Jsonb(json_ready(params)), as_of, RunStatus.RUNNING.value, run_dir),
        )


def finish_run(conn: psycopg.Connection, *, manifest: Manifest) -> None:
    """Record how a run ended: its status, errors, the whole manifest, and one row per written file."""
    with state_tables(), conn.transaction():
        conn.execute(
            "UPDATE engine.runs SET status = %s, error = %s, manifest = %s, finished_at = now() WHERE id = %s",
            (manifest.status.value, "; ".join(manifest.errors) or None, Jsonb(manifest.to_json()), manifest.run_id),
        )
        for output in manifest.outputs:
            if output.status is not OutputStatus.WRITTEN:
                continue
            conn.execute(
                "INSERT INTO engine.run_outputs (run_id, output_name, file_name, is_test, row_count, sha256) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (manifest.run_id, output.name, output.file, output.is_test, output.rows, output.sha256),
            )


def abandon_dead_runs(conn: psycopg.Connection) -> list[str]:
    """Mark ``abandoned`` every ``running`` run whose lock no session holds (its process died); return their ids."""
    with state_tables():
        running = (
            conn.cursor(row_factory=scalar_row)
            .execute("SELECT id::text FROM engine.runs WHERE status = %s", (RunStatus.RUNNING.value,))
            .fetchall()
        )
    conn.commit()
    abandoned = []
    for run_id in running:
        if (
            not conn.cursor(row_factory=scalar_row)
            .execute(f"SELECT pg_try_advisory_lock({_RUN_KEY})", (run_id,))
            .fetchone()
        ):
            continue  # its process is alive and holds the lock
        try:
            with conn.transaction():
                moved = conn.execute(
                    "UPDATE engine.runs SET status = %s, finished_at = now(), "
                    "error = coalesce(error, 'the process running it died before it finished') "
                    "WHERE id = %s AND status = %s",
                    (RunStatus.ABANDONED.value, run_id, RunStatus.RUNNING.value),
                ).rowcount
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({_RUN_KEY})", (run_id,))
            conn.commit()
        if moved:
            abandoned.append(run_id)
    return abandoned


def fail_run(conn: psycopg.Connection, *, run_id: str, error: str) -> None:
    """Finish a run that stopped on an unexpected error, so its row never stays ``running``."""
    with state_tables(), conn.transaction():
        conn.execute(
            "UPDATE engine.runs SET status = %s, error = %s, finished_at = now() WHERE id = %s AND status = %s",
            (RunStatus.FAILED.value, error, run_id, RunStatus.RUNNING.value),
        )


_COLUMNS = "id::text AS id, audience, status, as_of, started_at, finished_at, run_dir, error, manifest"
# finished with the outputs it could write: what a report compares an audience's size with
_SIZED = [RunStatus.SUCCEEDED.value, RunStatus.EMPTY.value, RunStatus.PARTIAL.value]


def _records(conn: psycopg.Connection) -> psycopg.Cursor[RunRecord]:
    return conn.cursor(row_factory=class_row(RunRecord))


def get_run(conn: psycopg.Connection, run_id: str) -> RunRecord | None:
    """The run with this id; None when there is none (or ``run_id`` is not a uuid at all)."""
    try:
        uuid.UUID(run_id)
    except ValueError:
        return None
    with state_tables():
        return _records(conn).execute(f"SELECT {_COLUMNS} FROM engine.runs WHERE id = %s", (run_id,)).fetchone()


def recent_runs(conn: psycopg.Connection, limit: int) -> list[RunRecord]:
    """The last ``limit`` runs of any audience, latest first."""
    with state_tables():
        return (
            _records(conn)
            .execute(f"SELECT {_COLUMNS} FROM engine.runs ORDER BY started_at DESC LIMIT %s", (limit,))
            .fetchall()
        )


def audience_runs(conn: psycopg.Connection, audience: str, limit: int) -> list[RunRecord]:
    """The last ``limit`` runs of ``audience``, latest first."""
    with state_tables():
        return (
            _records(conn)
            .execute(
                f"SELECT {_COLUMNS} FROM engine.runs WHERE audience = %s ORDER BY started_at DESC LIMIT %s",
                (audience, limit),
            )
            .fetchall()
        )


def finished_before(conn: psycopg.Connection, audience: str, run_id: str, limit: int) -> list[RunRecord]:
    """The last ``limit`` runs of ``audience`` that finished with outputs and started before ``run_id``."""
    with state_tables():
        return (
            _records(conn)
            .execute(
                f"SELECT {_COLUMNS} FROM engine.runs AS r WHERE r.audience = %s AND r.id::text <> %s "
                "AND r.status = ANY(%s) AND r.manifest IS NOT NULL "
                "AND r.started_at <= coalesce((SELECT started_at FROM engine.runs WHERE id::text = %s), 'infinity') "
                "ORDER BY r.started_at DESC LIMIT %s",
                (audience, run_id, _SIZED, run_id, limit),
            )
            .fetchall()
        )


def last_successes(conn: psycopg.Connection) -> list[LastSuccess]:
    """Per audience, when a run of it last ended ok (succeeded or empty)."""
    with state_tables():
        return (
            conn.cursor(row_factory=class_row(LastSuccess))
            .execute(
                "SELECT 'audience' AS kind, audience AS name, max(finished_at) AS at FROM engine.runs "
                "WHERE status = ANY(%s) GROUP BY audience",
                ([s.value for s in RunStatus if s.ok],),
            )
            .fetchall()
        )
