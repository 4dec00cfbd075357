"""The scheduler's jobs in procrastinate's queue (same database): the only SQL on procrastinate_jobs, and on
engine.stalled_jobs, the record of the jobs of dead workers handed back.

A run's phase jobs carry the run id as their ``lock`` (engine.scheduler.jobs), so a cancelled run's
waiting jobs are found by it and cancelled through procrastinate's own function (kept, as cancelled).
"""

from __future__ import annotations

from enum import StrEnum

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


class HandBack(StrEnum):
    """How a dead worker's job was handed back."""

    RETRIED = "retried"  # the job itself is queued again
    SUPERSEDED = "superseded"  # the same phase of its run already waits (the planner queues it on every tick):
    # the dead job is closed as failed, which frees the run's lock for the waiting one


def hand_back(
    conn: psycopg.Connection, job_id: int, dead_worker: int | None, *, task: str, run_id: str | None, by: str
) -> HandBack | None:
    """Hand back job ``job_id``, found running (``doing``) on the dead worker ``dead_worker`` (None once pruned),
    and record it as handed back by replica ``by``, in one transaction; None when it is no longer that
    worker's running job (another replica handed it back first: it is counted there, once)."""
    with conn.transaction():
        mine = conn.execute(
            "SELECT id FROM procrastinate_jobs WHERE id = %s AND status = 'doing' "
            "AND (worker_id IS NULL OR worker_id = %s) FOR UPDATE",
            (job_id, dead_worker),
        ).fetchone()
        if mine is None:
            return None
        try:
            with conn.transaction():
                conn.execute("SELECT procrastinate_retry_job_v2(%s, now(), NULL, NULL, NULL)", (job_id,))
            how = HandBack.RETRIED
        except psycopg.errors.UniqueViolation:  # its queueing lock: a job for the same run and phase waits
            conn.execute("SELECT procrastinate_finish_job_v1(%s, 'failed', false)", (job_id,))
            how = HandBack.SUPERSEDED
        conn.execute(
            "INSERT INTO engine.stalled_jobs (job_id, task, run_id, how, worker) VALUES (%s, %s, %s, %s, %s)",
            (job_id, task, run_id, how.value, by),
        )
    return how


def handed_back(conn: psycopg.Connection) -> int:
    """How many jobs of dead workers any replica handed back (all time)."""
    return conn.execute("SELECT count(*) FROM engine.stalled_jobs").fetchone()[0]  # type: ignore[index]
