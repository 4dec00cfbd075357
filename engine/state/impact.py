"""engine.impact (migration 0012): the measured conversion counts of each run's pushes; the only SQL on it.

``engine impact`` and the scheduler's measurement write rows (one upsert per measurement, so measuring
again replaces the counts); the report, the operator page and /metrics read them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import psycopg
from psycopg.rows import class_row

from engine.state.model import ImpactCounts

_COLUMNS = (
    "run_id::text AS run_id, automation_id, push, variant, conversion, within_seconds, send_at, window_closed,"
    " treated, treated_converted, held_out, held_out_converted, measured_at"
)


def store(conn: psycopg.Connection, rows: Sequence[ImpactCounts]) -> None:
    """Insert or replace the rows (keyed by run, push, variant and conversion), measured now."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO engine.impact (run_id, automation_id, push, variant, conversion, within_seconds, send_at,"
            " window_closed, treated, treated_converted, held_out, held_out_converted)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (run_id, push, variant, conversion) DO UPDATE SET within_seconds = EXCLUDED.within_seconds,"
            " send_at = EXCLUDED.send_at, window_closed = EXCLUDED.window_closed, treated = EXCLUDED.treated,"
            " treated_converted = EXCLUDED.treated_converted, held_out = EXCLUDED.held_out,"
            " held_out_converted = EXCLUDED.held_out_converted, measured_at = now()",
            [
                (
                    r.run_id,
                    r.automation_id,
                    r.push,
                    r.variant,
                    r.conversion,
                    r.within_seconds,
                    r.send_at,
                    r.window_closed,
                    r.treated,
                    r.treated_converted,
                    r.held_out,
                    r.held_out_converted,
                )
                for r in rows
            ],
        )


def of_automation(conn: psycopg.Connection, automation_id: str, *, since: datetime | None = None) -> list[ImpactCounts]:
    """Every stored row of ``automation_id`` (sent since ``since``), oldest send first."""
    cur = conn.cursor(row_factory=class_row(ImpactCounts))
    return cur.execute(
        f"SELECT {_COLUMNS} FROM engine.impact WHERE automation_id = %s AND (%s::timestamptz IS NULL OR send_at >= %s)"
        " ORDER BY send_at, push, variant, conversion",
        (automation_id, since, since),
    ).fetchall()


def of_run(conn: psycopg.Connection, run_id: str) -> list[ImpactCounts]:
    """The stored rows of one automation run."""
    cur = conn.cursor(row_factory=class_row(ImpactCounts))
    return cur.execute(
        f"SELECT {_COLUMNS} FROM engine.impact WHERE run_id = %s ORDER BY push, variant, conversion", (run_id,)
    ).fetchall()


def latest(conn: psycopg.Connection) -> list[ImpactCounts]:
    """Each automation's most recent run with a closed window: its push-level rows (the page's latest uplift)."""
    cur = conn.cursor(row_factory=class_row(ImpactCounts))
    return cur.execute(
        f"SELECT {_COLUMNS} FROM engine.impact AS i WHERE variant = '' AND window_closed AND send_at = ("
        " SELECT max(send_at) FROM engine.impact AS j WHERE j.automation_id = i.automation_id AND j.window_closed)"
        " ORDER BY automation_id, push, conversion"
    ).fetchall()


def totals(conn: psycopg.Connection) -> list[tuple[str, str, int, int, int, int]]:
    """(automation, conversion, treated, treated converted, held out, held out converted) summed over every
    closed-window run: the /metrics counters (push-level rows only, so no user is counted twice)."""
    return conn.execute(
        "SELECT automation_id, conversion, sum(treated)::bigint, sum(treated_converted)::bigint,"
        " sum(held_out)::bigint, sum(held_out_converted)::bigint FROM engine.impact"
        " WHERE variant = '' AND window_closed GROUP BY automation_id, conversion ORDER BY 1, 2"
    ).fetchall()
