"""engine.impact (migration 0012): the measured conversion counts of each run's pushes; the only SQL on it.
Also the read of what is measured: each live send's treated and held-out rows (engine.sends, send_items).

``engine impact`` and the scheduler's measurement write rows (one upsert per measurement, so measuring
again replaces the counts); the report, the operator page and /metrics read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import IO, Sequence

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


# ---- what is measured: the ledger's arms ---------------------------------------------------------
# An automation's live sends (engine.automation_runs -> its audience run -> engine.sends, mode live), and per
# send who was treated (status sent) and who was held out (reason held_out:<scope>), read for `engine impact`.

HELD_OUT_LIKE = "held_out:%"


@dataclass(frozen=True)
class LiveSendArms:
    """One live send of an automation run: its push and the times its arms are attributed from."""

    run_id: str  # the automation run (engine.automation_runs.id)
    run_send_at: datetime  # the run's T
    send_id: str
    push: str
    started_at: datetime  # the earliest answer recorded for a sent row, else the send's creation
    last_sent_at: datetime | None  # the latest answer recorded for a sent row (None: nobody was sent)
    treated: int
    held_out: int


def live_sends_of_automation(
    conn: psycopg.Connection, automation_id: str, since: datetime | None = None
) -> list[LiveSendArms]:
    """The live sends of ``automation_id``'s runs (T at or after ``since``), oldest run first.

    A run's live send is a send of its audience run in mode ``live`` (the scheduler's, or an
    `engine send --automation` of the run's folder)."""
    cur = conn.cursor(row_factory=class_row(LiveSendArms))
    return cur.execute(
        "SELECT r.id::text AS run_id, r.send_at AS run_send_at, s.send_id, coalesce(s.template, '') AS push,"
        " coalesce(min(i.updated_at) FILTER (WHERE i.status = 'sent'), s.created_at) AS started_at,"
        " max(i.updated_at) FILTER (WHERE i.status = 'sent') AS last_sent_at,"
        " count(*) FILTER (WHERE i.status = 'sent')::int AS treated,"
        " count(*) FILTER (WHERE i.status = 'skipped' AND i.reason LIKE %s)::int AS held_out"
        " FROM engine.automation_runs AS r"
        " JOIN engine.sends AS s ON s.run_id = r.audience_run_id AND s.mode = 'live'"
        " LEFT JOIN engine.send_items AS i ON i.send_id = s.send_id"
        " WHERE r.automation_id = %s AND (%s::timestamptz IS NULL OR r.send_at >= %s)"
        " GROUP BY r.id, r.send_at, s.send_id, s.template, s.created_at"
        " ORDER BY r.send_at, s.template, s.send_id",
        (HELD_OUT_LIKE, automation_id, since, since),
    ).fetchall()


def copy_arms(conn: psycopg.Connection, send_ids: Sequence[str], sink: IO[bytes]) -> None:
    """Write every treated and held-out row of ``send_ids`` to ``sink`` as CSV, one COPY:
    send_id, user_id, variant ('' without variants), arm (t treated, h held out), updated_at."""
    if not send_ids:
        return
    with conn.cursor().copy(
        "COPY (SELECT send_id, user_id::text, coalesce(variant, ''),"
        " CASE WHEN status = 'sent' THEN 't' ELSE 'h' END, updated_at FROM engine.send_items"
        " WHERE send_id = ANY(%s) AND (status = 'sent' OR (status = 'skipped' AND reason LIKE %s)))"
        " TO STDOUT (FORMAT csv)",
        (list(send_ids), HELD_OUT_LIKE),
    ) as copy:
        for chunk in copy:
            sink.write(chunk)
