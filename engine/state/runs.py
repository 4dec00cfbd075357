"""Recording audience runs and their outputs in the state database."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def start_run(conn: psycopg.Connection, *, run_id: str, audience: str, params: dict[str, Any],
              as_of: datetime, run_dir: str | None) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO engine.runs (id, audience, params, as_of, status, run_dir) "
            "VALUES (%s, %s, %s, %s, 'running', %s)",
            (run_id, audience, Jsonb(json.loads(json.dumps(params, default=str))), as_of, run_dir))


def finish_run(conn: psycopg.Connection, *, run_id: str, manifest: dict[str, Any]) -> None:
    with conn.transaction():
        conn.execute(
            "UPDATE engine.runs SET status = %s, error = %s, manifest = %s, finished_at = now() WHERE id = %s",
            (manifest["status"], "; ".join(manifest.get("errors", [])) or None,
             Jsonb(json.loads(json.dumps(manifest, default=str))), run_id))
        for output in manifest["outputs"]:
            if output["status"] != "written":
                continue
            conn.execute(
                "INSERT INTO engine.run_outputs (run_id, output_name, file_name, is_test, row_count, sha256) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (run_id, output["name"], output["file"], output["is_test"], output["rows"], output["sha256"]))
