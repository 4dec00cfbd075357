"""Measuring an automation's pushes: treated and held-out users of each live send, and who of them converted.

For each live send of the automation's runs since ``since`` (read through ``engine.state.impact``):

- treated: the send's rows with status ``sent``, attributed from when their answer was recorded (the row's
  ``updated_at``);
- held out: the rows skipped with reason ``held_out:<scope>``, attributed from when the live send began
  (its earliest recorded answer, else its creation): when they would have been pushed.

A user converts for a push when some conversion of theirs falls in ``(attributed, attributed + within]``:
one before the push, or after the window, does not count, and a user counts once however often they
convert. The ledger's rows (one COPY) and each conversion's rows (one read-only query over the whole span)
are joined in DuckDB, so the state and app databases may be different servers. Counts come per (run,
push, variant) and per push (variant ``''``); a variant's row compares its treated users with the send's
whole holdout (the holdout and the variant are hashed with different salts, so each variant's treated
users and the holdout are comparable samples).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from engine.config import Settings
from engine.db import SourcePool, role_check
from engine.experiments.conversions import fetch_conversions
from engine.schedules.model import Conversion
from engine.state import impact
from engine.state.connection import state_connection
from engine.state.impact import LiveSendArms
from engine.state.model import ALL_VARIANTS, ImpactCounts

_ARM_COLUMNS = ("send_id", "user_id", "variant", "arm", "updated_at")
TREATED, HELD_OUT = "t", "h"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Ledger:
    """What was measured against: the live sends and, per row, its arm and attribution time (DuckDB)."""

    sends: list[LiveSendArms]
    duck: duckdb.DuckDBPyConnection  # table ``arms``: send_id, user_id, variant, arm, attributed (epoch microseconds)

    def close(self) -> None:
        self.duck.close()


def last_attribution(send: LiveSendArms) -> datetime:
    """The latest moment any of the send's users is attributed from (its last answer, or its start)."""
    return max(send.started_at, send.last_sent_at or send.started_at)


def read_ledger(settings: Settings, automation_id: str, *, since: datetime | None) -> Ledger:
    """The automation's live sends since ``since`` and their treated and held-out rows, loaded in DuckDB."""
    buffer = io.BytesIO()
    with state_connection(settings) as conn:
        sends = impact.live_sends_of_automation(conn, automation_id, since)
        impact.copy_arms(conn, [s.send_id for s in sends], buffer)
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    rows = _arm_table(buffer)
    started = pa.table(
        {
            "send_id": pa.array([s.send_id for s in sends], pa.string()),
            "started_us": pa.array([_epoch_us(s.started_at) for s in sends], pa.int64()),
        }
    )
    duck.register("arm_rows", rows)
    duck.register("send_starts", started)
    duck.execute(
        "CREATE TABLE arms AS SELECT a.send_id, lower(a.user_id) AS user_id, a.variant, a.arm,"
        " CASE WHEN a.arm = 't' THEN epoch_us(CAST(a.updated_at AS TIMESTAMPTZ)) ELSE s.started_us END AS attributed"
        " FROM arm_rows AS a JOIN send_starts AS s USING (send_id)"
    )
    duck.unregister("arm_rows")
    duck.unregister("send_starts")
    return Ledger(sends, duck)


def _arm_table(buffer: io.BytesIO) -> pa.Table:
    schema = pa.schema([(name, pa.string()) for name in _ARM_COLUMNS])
    if buffer.tell() == 0:
        return schema.empty_table()
    buffer.seek(0)
    return pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(column_names=list(_ARM_COLUMNS), block_size=1 << 24),
        convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=False),
    )


def _epoch_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def attributed_at(epoch_us: int) -> datetime:
    """The moment an ``arms`` row's ``attributed`` column (microseconds since the epoch) stands for."""
    return _EPOCH + timedelta(microseconds=epoch_us)


def conversion_span(sends: Sequence[LiveSendArms], within: timedelta, now: datetime) -> tuple[datetime, datetime]:
    """(start, end] of the conversions that can count for any of ``sends``: from the first attribution to the
    last attribution plus ``within``, never past ``now``."""
    start = min(s.started_at for s in sends)
    end = min(now, max(last_attribution(s) for s in sends) + within)
    return start, max(start, end)


def count(
    ledger: Ledger, automation_id: str, conversion: Conversion, conversions: pa.Table, now: datetime
) -> list[ImpactCounts]:
    """The counts of every live send of ``ledger`` for one conversion (rows of (user_id, converted_at))."""
    within_us = int(conversion.within / timedelta(microseconds=1))
    duck = ledger.duck
    duck.register("conversion_rows", conversions)
    try:
        counted = duck.execute(
            "WITH c AS (SELECT lower(user_id) AS user_id, epoch_us(CAST(converted_at AS TIMESTAMPTZ)) AS converted"
            "  FROM conversion_rows WHERE user_id IS NOT NULL AND converted_at IS NOT NULL),"
            " hit AS (SELECT DISTINCT a.send_id, a.user_id FROM arms AS a JOIN c ON c.user_id = a.user_id"
            "  AND c.converted > a.attributed AND c.converted <= a.attributed + ?)"
            " SELECT a.send_id, a.arm, a.variant, count(*) AS users, count(hit.user_id) AS converted"
            " FROM arms AS a LEFT JOIN hit ON hit.send_id = a.send_id AND hit.user_id = a.user_id"
            " GROUP BY a.send_id, a.arm, a.variant",
            [within_us],
        ).fetchall()
    finally:
        duck.unregister("conversion_rows")
    # (send, arm) -> {variant: (users, converted)}
    by_send: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for send_id, arm, variant, users, converted in counted:
        by_send.setdefault((send_id, arm), {})[variant] = (int(users), int(converted))
    rows: list[ImpactCounts] = []
    for send in ledger.sends:
        treated = by_send.get((send.send_id, TREATED), {})
        held = by_send.get((send.send_id, HELD_OUT), {})
        held_users = sum(u for u, _ in held.values())
        held_converted = sum(c for _, c in held.values())
        closed = now >= last_attribution(send) + conversion.within
        variants = [(ALL_VARIANTS, (sum(u for u, _ in treated.values()), sum(c for _, c in treated.values())))]
        variants += [(v, treated.get(v, (0, 0))) for v in sorted((set(treated) | set(held)) - {ALL_VARIANTS})]
        rows.extend(
            ImpactCounts(
                run_id=send.run_id,
                automation_id=automation_id,
                push=send.push,
                variant=variant,
                conversion=conversion.name,
                within_seconds=int(conversion.within.total_seconds()),
                send_at=send.started_at,
                window_closed=closed,
                treated=users,
                treated_converted=converted,
                held_out=held_users,
                held_out_converted=held_converted,
            )
            for variant, (users, converted) in variants
        )
    return rows


def measure(
    settings: Settings,
    automation_id: str,
    conversions: Sequence[Conversion],
    *,
    since: datetime | None,
    now: datetime,
    store: bool = True,
) -> list[ImpactCounts]:
    """Count every live send of ``automation_id`` since ``since`` for each conversion; store the counts
    (engine.impact, replacing earlier ones) unless ``store`` is False."""
    ledger = read_ledger(settings, automation_id, since=since)
    try:
        if not ledger.sends:
            return []
        rows: list[ImpactCounts] = []
        with SourcePool(
            settings.require_source_dsn(),
            size=1,
            check=role_check(settings, live=False),
            statement_timeout_s=settings.statement_timeout_s,
            retries=settings.connect_retries,
        ) as pool:
            for conversion in conversions:
                start, end = conversion_span(ledger.sends, conversion.within, now)
                table = fetch_conversions(pool, settings.project_dir / "sql", conversion.name, start, end)
                rows.extend(count(ledger, automation_id, conversion, table, now))
    finally:
        ledger.close()
    if store and rows:
        with state_connection(settings) as conn, conn.transaction():
            impact.store(conn, rows)
    return rows
