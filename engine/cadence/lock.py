"""The cadence lock: filtering an audience against cadence and claiming its pushes is one step.

Every live send takes this transaction-level advisory lock on the state database, reads the
database's clock, filters its audience and writes its ledger rows (its claims, which
engine/state/cadence_filter.sql counts), then commits, which releases the lock. The lock has one
scope, the state database's whole notification history, because rules count pushes across
layers (the combined layer-2/3 limit gates every layer). The clock is read after the lock is
granted, so it is later than every claim and push already committed by another process.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import scalar_row

CADENCE_LOCK = 0x63616465  # "cade"


def hold_cadence_lock(conn: psycopg.Connection) -> datetime:
    """Take the lock until ``conn``'s current transaction ends; return the database clock after it."""
    if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("hold_cadence_lock needs an open transaction (it is released at its end)")
    conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (CADENCE_LOCK,))
    clock = conn.cursor(row_factory=scalar_row).execute("SELECT clock_timestamp()").fetchone()
    assert clock is not None
    return clock
