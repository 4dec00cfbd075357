"""Recording audience runs and their outputs in the state database."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import psycopg
from psycopg.types.json import Jsonb

from engine.errors import NotMigrated
from engine.runs.model import Manifest, OutputStatus, RunStatus, json_ready


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


def start_run(conn: psycopg.Connection, *, run_id: str, audience: str, params: dict[str, Any],
              as_of: datetime, run_dir: str | None) -> None:
    """Record a run before it starts, so a crash leaves a visible ``running`` row.

    ``conn`` takes a session advisory lock for the run first: keep it open until the run is
    finished. When the process dies the server drops the lock, and ``abandon_dead_runs`` sees it.
    """
    conn.execute(f"SELECT pg_advisory_lock({_RUN_KEY})", (run_id,))
    conn.commit()
    with state_tables(), conn.transaction():
        conn.execute(
            "INSERT INTO engine.runs (id, audience, params, as_of, status, run_dir) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (run_id, audience, Jsonb(json_ready(params)), as_of, RunStatus.RUNNING.value, run_dir))


def finish_run(conn: psycopg.Connection, *, manifest: Manifest) -> None:
    """Record how a run ended: its status, errors, the whole manifest, and one row per written file."""
    with state_tables(), conn.transaction():
        conn.execute(
            "UPDATE engine.runs SET status = %s, error = %s, manifest = %s, finished_at = now() WHERE id = %s",
            (manifest.status.value, "; ".join(manifest.errors) or None, Jsonb(manifest.to_json()),
             manifest.run_id))
        for output in manifest.outputs:
            if output.status is not OutputStatus.WRITTEN:
                continue
            conn.execute(
                "INSERT INTO engine.run_outputs (run_id, output_name, file_name, is_test, row_count, sha256) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (manifest.run_id, output.name, output.file, output.is_test, output.rows, output.sha256))


def abandon_dead_runs(conn: psycopg.Connection) -> list[str]:
    """Mark ``abandoned`` every ``running`` run whose lock no session holds (its process died); return their ids."""
    with state_tables():
        running = [r[0] for r in conn.execute(
            "SELECT id::text FROM engine.runs WHERE status = %s", (RunStatus.RUNNING.value,)).fetchall()]
    conn.commit()
    abandoned = []
    for run_id in running:
        free = conn.execute(f"SELECT pg_try_advisory_lock({_RUN_KEY})", (run_id,)).fetchone()
        if not free or not free[0]:
            continue   # its process is alive and holds the lock
        try:
            with conn.transaction():
                moved = conn.execute(
                    "UPDATE engine.runs SET status = %s, finished_at = now(), "
                    "error = coalesce(error, 'the process running it died before it finished') "
                    "WHERE id = %s AND status = %s",
                    (RunStatus.ABANDONED.value, run_id, RunStatus.RUNNING.value)).rowcount
        finally:
            conn.execute(f"SELECT pg_advisory_unlock({_RUN_KEY})", (run_id,))
            conn.commit()
        if moved:
            abandoned.append(run_id)
    return abandoned


def fail_run(conn: psycopg.Connection, *, run_id: str, error: str) -> None:
    """Finish a run that stopped on an unexpected error, so its row never stays ``running``."""
    with state_tables(), conn.transaction():
        conn.execute("UPDATE engine.runs SET status = %s, error = %s, finished_at = now() "
                     "WHERE id = %s AND status = %s",
                     (RunStatus.FAILED.value, error, run_id, RunStatus.RUNNING.value))
