"""The cadence tables' repository (engine.state.cadence) on a real state database: typed blocks that count
history and the ledger's claims, records idempotent by send key, in-doubt pushes taken from the ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

import psycopg
import pytest

from engine.cadence.model import Delivery, SentPush
from engine.delivery.model import CadenceSummary, ItemStatus, LedgerItem, PlanSummary, SendRecord
from engine.errors import StateError
from engine.state import cadence, sends

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)


def uid(n: int) -> str:
    return f"6f1c1e8a-3b7e-4c5d-9a2b-{n:012d}"


def push(n: int, key: str, *, layer: int = 3, hours_ago: float = 1) -> SentPush:
    return SentPush(
        user_id=uid(n),
        layer_id=layer,
        sent_at=AS_OF - timedelta(hours=hours_ago),
        push_title="t",
        push_body="b",
        audience_description="d",
        deep_link=None,
        send_key=key,
    )


def window(hours: float, max_count: int, *layers: int) -> cadence.Window:
    return cadence.Window(since=AS_OF - timedelta(hours=hours), max_count=max_count, layers=layers)


@pytest.fixture(scope="module")
def state_db(create_database: Callable[..., str]) -> str:
    return create_database(app_schema=False)


@pytest.fixture
def conn(state_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(state_db, autocommit=True) as conn:
        conn.execute("TRUNCATE engine.sends, engine.send_items, engine.dead_tokens, engine.user_notifications")
        yield conn


def test_blocks_name_the_first_window_with_its_count_and_last_push(conn: psycopg.Connection) -> None:
    assert (
        cadence.record(
            conn, [push(1, "a", hours_ago=1), push(1, "b", hours_ago=2), push(2, "c", layer=2)], Delivery.SENT
        )
        == 3
    )
    windows = [window(72, 3, 3), window(24, 2, 2, 3), window(24, 1, 2)]
    blocks = cadence.blocked(conn, [uid(1), uid(2), uid(3)], windows, AS_OF)
    assert [(b.user_id, b.rule_ord, b.pushes, b.last_sent_at) for b in blocks] == [
        (uid(1), 1, 2, AS_OF - timedelta(hours=1)),
        (uid(2), 2, 1, AS_OF - timedelta(hours=1)),
    ]
    before = cadence.blocked(conn, [uid(1)], windows, AS_OF - timedelta(hours=1, seconds=1))
    assert before == []  # only history up to as_of counts: one push of uid 1 is later


def test_a_ledger_claim_counts_and_in_flight_rows_become_pushes_in_doubt(conn: psycopg.Connection) -> None:
    record = SendRecord(
        send_id="s1",
        mode="live",
        layer_id=3,
        source_file="x.csv",
        source_sha256="a",
        template_sha256="b",
        as_of=AS_OF - timedelta(hours=1),
        audience_description="CSV: x.csv",
    )
    plan = PlanSummary(total_rows=1, duplicates=0, empty_ids=0, invalid_ids=0, cadence=CadenceSummary("builtin"))
    with conn.transaction():
        sends.insert(conn, record, plan, [LedgerItem(seq=0, user_id=uid(1), status=ItemStatus.PENDING, title="t")])
    [claim] = cadence.blocked(conn, [uid(1)], [window(24, 1, 3)], None)
    assert (claim.user_id, claim.pushes, claim.last_sent_at) == (uid(1), 1, record.as_of)
    sends.claim(conn, "s1", [0])
    cadence.record_in_flight_in_doubt(conn, "s1", (0, 1))
    cadence.record_in_flight_in_doubt(conn, "s1", (0, 1))  # once per send key
    rows = conn.execute("SELECT user_id::text, layer_id, delivery, send_key FROM engine.user_notifications").fetchall()
    assert rows == [(uid(1), 3, Delivery.IN_DOUBT, f"s1:{uid(1)}")]
    confirmed = push(1, f"s1:{uid(1)}", hours_ago=0)
    assert cadence.record(conn, [confirmed], Delivery.SENT) == 1  # a confirmed delivery turns it into sent
    assert cadence.record(conn, [confirmed], Delivery.IN_DOUBT) == 0
    assert conn.execute("SELECT delivery FROM engine.user_notifications").fetchall() == [(Delivery.SENT,)]


def test_a_push_of_an_unknown_layer_or_user_is_a_state_error(conn: psycopg.Connection) -> None:
    with pytest.raises(StateError, match="notification_layers"):
        cadence.record(conn, [push(1, "a", layer=99)], Delivery.SENT)
    with pytest.raises(StateError, match="not a UUID"):
        cadence.record(conn, [replace(push(1, "a"), user_id="nope")], Delivery.SENT)
