"""The send ledger's repository (engine.state.sends) on a real state database: typed rows, the view's
status tied to the send's lock, and a hot path whose statements do not grow with the batch."""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from typing import Callable, Iterator

import psycopg
import pytest

from engine.delivery.ledger import Ledger
from engine.delivery.model import (
    ALL_ROWS,
    IN_FLIGHT_UNKNOWN,
    CadenceSummary,
    ItemResult,
    ItemStatus,
    LedgerItem,
    PlanSummary,
    Send,
    SendRecord,
    SendStatus,
)
from engine.state import sends

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
PLAN = PlanSummary(
    total_rows=4, duplicates=1, empty_ids=0, invalid_ids=0, cadence=CadenceSummary(mode="builtin", warnings=("w",))
)


def uid(n: int) -> str:
    return f"6f1c1e8a-3b7e-4c5d-9a2b-{n:012d}"


def record(send_id: str = "s1", run_id: str | None = None) -> SendRecord:
    return SendRecord(
        send_id=send_id,
        mode="live",
        layer_id=3,
        source_file="x.csv",
        source_sha256="a" * 64,
        template_sha256="b" * 64,
        as_of=AS_OF,
        audience_description="CSV: x.csv",
        run_id=run_id,
        template="hello",
        output="main",
    )


def items(count: int) -> list[LedgerItem]:
    """``count`` pending rows, then one skipped."""
    return [
        *(
            LedgerItem(seq=n, user_id=uid(n), status=ItemStatus.PENDING, token=f"tok{n}", title="t", body="b")
            for n in range(count)
        ),
        LedgerItem(seq=count, user_id=uid(count), status=ItemStatus.SKIPPED, reason="no_token"),
    ]


@pytest.fixture(scope="module")
def state_db(create_database: Callable[..., str]) -> str:
    return create_database(app_schema=False)


@pytest.fixture
def conn(state_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(state_db, autocommit=True) as conn:
        conn.execute("TRUNCATE engine.sends, engine.send_items, engine.dead_tokens, engine.user_notifications")
        yield conn


def test_a_send_reads_back_typed_with_its_plan_and_the_status_its_lock_gives(
    conn: psycopg.Connection, state_db: str
) -> None:
    assert sends.try_lock(conn, "s1")
    with conn.transaction():
        sends.insert(conn, record(run_id="7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11"), PLAN, items(3))
    found = sends.find(conn, "s1")
    assert isinstance(found, Send) and found.status is SendStatus.SENDING and found.plan == PLAN
    assert (found.layer_id, found.as_of, found.template, found.output) == (3, AS_OF, "hello", "main")
    assert sends.sending_now(conn, ["s1", "other"]) == ["s1"]
    with psycopg.connect(state_db, autocommit=True) as other:
        assert not sends.try_lock(other, "s1") and not sends.try_lock(other, "s1", shared=True)
    conn.execute("SELECT pg_advisory_unlock_all()")
    crashed = sends.find(conn, "s1")  # 'sending' in the table, but nobody holds the lock
    assert crashed is not None and crashed.status is SendStatus.INTERRUPTED
    sends.finish(conn, "s1", SendStatus.COMPLETED)
    [of_run] = sends.of_run(conn, "7d0c5a8e-5f4e-4b8e-9d55-2f3c1e9a0b11")
    assert of_run.status is SendStatus.COMPLETED and of_run.plan.cadence.warnings == ("w",)
    assert sends.find(conn, "missing") is None and sends.sending_now(conn, ["s1"]) == []


def test_items_move_pending_in_flight_answered_and_are_tallied_by_status(conn: psycopg.Connection) -> None:
    with conn.transaction():
        sends.insert(conn, record(), PLAN, items(4))
    todo = sends.pending(conn, "s1", None, ALL_ROWS)
    assert [i.seq for i in todo] == [0, 1, 2, 3] and all(i.status is ItemStatus.PENDING for i in todo)
    assert sends.pending(conn, "s1", 2, (1, 4)) == todo[1:3] and sends.seq_count(conn, "s1") == 5
    sends.claim(conn, "s1", [0, 1, 2, 3])
    sends.record_results(
        conn,
        "s1",
        [
            ItemResult(todo[0], ItemStatus.SENT, message_id="m0"),
            ItemResult(todo[1], ItemStatus.FAILED, code="UNREGISTERED", dead_token=True),
            ItemResult(todo[2], ItemStatus.FAILED, code="UNAVAILABLE", retryable=True),
        ],
    )
    sends.add_dead_tokens(conn, "s1", [ItemResult(todo[1], ItemStatus.FAILED, code="UNREGISTERED")])
    tally = sends.tally(conn, "s1")
    assert tally.rows == {
        (ItemStatus.SENT, None, False): 1,
        (ItemStatus.FAILED, "UNREGISTERED", False): 1,
        (ItemStatus.FAILED, "UNAVAILABLE", True): 1,
        (ItemStatus.IN_FLIGHT, None, False): 1,
        (ItemStatus.SKIPPED, "no_token", False): 1,
    }
    assert sends.dead_tokens(conn, ["tok1", "tok0"]) == {"tok1": "UNREGISTERED"}
    assert sends.fail_in_flight(conn, "s1", ALL_ROWS) == 1  # seq 3: in doubt, never again
    assert sends.requeue_retryable(conn, "s1", ALL_ROWS) == 1  # seq 2
    assert sends.tally(conn, "s1").reasons(ItemStatus.FAILED) == {IN_FLIGHT_UNKNOWN: 1, "UNREGISTERED": 1}
    assert sends.requeue_in_flight(conn, "s1", (3, 4)) == 1  # --resend-in-flight takes it back
    assert [i.seq for i in sends.pending(conn, "s1", None, ALL_ROWS)] == [2, 3]


def test_a_split_is_pinned_once_and_the_last_shard_out_is_seen(conn: psycopg.Connection, state_db: str) -> None:
    with conn.transaction():
        sends.insert(conn, record(), PLAN, items(2))
    assert sends.pinned_shards(conn, "s1") is None
    assert sends.pin_shards(conn, "s1", 2) and sends.pin_shards(conn, "s1", 2)
    assert not sends.pin_shards(conn, "s1", 3) and sends.pinned_shards(conn, "s1") == 2
    with psycopg.connect(state_db, autocommit=True) as other:
        assert sends.try_lock(conn, "s1", shared=True) and sends.try_lock(other, "s1", shared=True)
        assert sends.try_lock_shard(conn, "s1", "1/2") and not sends.try_lock_shard(other, "s1", "1/2")
        sends.unlock_shared(conn, "s1")
        assert sends.held_shared(conn, "s1")  # the other shard still sends
        sends.unlock_shared(other, "s1")
        assert not sends.held_shared(conn, "s1")


def _statements(conn: psycopg.Connection, work: Callable[[], object]) -> int:
    """Statements ``work`` sends to the server, counted in libpq's own protocol trace."""
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        try:
            work()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        sent = [line.split("\t") for line in trace]
        return sum(1 for fields in sent if "F" in fields and {"Query", "Bind"} & set(fields))


def test_committing_a_batch_costs_the_same_statements_for_one_push_or_five_hundred(conn: psycopg.Connection) -> None:
    with conn.transaction():
        sends.insert(conn, record(), PLAN, items(1001))
    ledger = Ledger(conn)
    todo = sends.pending(conn, "s1", None, ALL_ROWS)

    def batch(answered: list[LedgerItem], claimed: list[LedgerItem]) -> int:
        results = [ItemResult(i, ItemStatus.SENT, message_id=f"m{i.seq}") for i in answered]
        return _statements(conn, lambda: ledger.commit(record(), results, claimed))

    small, large = batch(todo[:1], todo[1:2]), batch(todo[2:502], todo[502:1001])
    assert small == large > 0
    assert sends.tally(conn, "s1").count(ItemStatus.SENT) == 501
