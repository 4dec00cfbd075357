"""The scheduler's jobs waiting in procrastinate's queue (same database): the only SQL on procrastinate_jobs.

A run's phase jobs carry the run id as their ``lock`` (engine.scheduler.jobs), so a cancelled run's
waiting jobs are found by it and cancelled through procrastinate's own function (kept, as cancelled).
"""

from __future__ import annotations

import psycopg
from psycopg.rows import scalar_row


def cancel_waiting(conn: psycopg.Connection, run_id: str) -> int:
    """Cancel the jobs of ``run_id`` still waiting (``todo``); how many. 0 when the queue has no tables."""
    if conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone() != (True,):
        return 0
    cancelled = (
        conn.cursor(row_factory=scalar_row)
        .execute(
            "SELECT procrastinate_cancel_job_v1(id, false, false) FROM procrastinate_jobs "
            "WHERE lock = %s AND status = 'todo'",
            (run_id,),
        )
        .fetchall()
    )
    return sum(1 for job in cancelled if job is not None)
