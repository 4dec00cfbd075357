"""Recording audience runs and their outputs in the state database."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator

import psycopg
from psycopg.types.json import Jsonb

from engine.errors import StateError
from engine.runs.model import Manifest, OutputStatus, RunStatus, json_ready

NOT_MIGRATED_HINT = "run `engine migrate` (it applies the engine's tables to ENGINE_STATE_DSN), then retry"


@contextmanager
def state_tables() -> Iterator[None]:
    """Turn "no such table/schema" into the one thing to do: ``engine migrate``."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName) as err:
        raise StateError(f"the state database is not migrated ({err.diag.message_primary or err})",
                         hint=NOT_MIGRATED_HINT) from None


def start_run(conn: psycopg.Connection, *, run_id: str, audience: str, params: dict[str, Any],
              as_of: datetime, run_dir: str | None) -> None:
    """Record a run before it starts, so a crash leaves a visible ``running`` row."""
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
