"""Built-in tracking: idempotent by send_key, inside the caller's transaction, seen by the filter."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from engine.cadence import SentPush, filter_audience, record_sent
from engine.config import Settings
from engine.errors import StateError

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
U1 = "6f1c1e8a-3b7e-4c5d-9a2b-000000000001"
U2 = "6f1c1e8a-3b7e-4c5d-9a2b-000000000002"


def push(user_id: str, key: str, *, layer: int = 3, sent_at: datetime = AS_OF) -> SentPush:
    return SentPush(user_id=user_id, layer_id=layer, sent_at=sent_at, push_title="🎯 The target: Dunk Lows 👟",
                    push_body="Hey Sam, ...", audience_description="layer3_recent_activity/offer_creators",
                    deep_link="https://tradeblock.us/product/x?productVariantId=v1", send_key=key)


def stored(dsn: str) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT user_id::text, layer_id, sent_at, push_title, deep_link, send_key "
            "FROM engine.user_notifications ORDER BY send_key").fetchall()


def test_same_rows_twice_give_one_record_each(app_db: str) -> None:
    rows = [push(U1, "run1:p1:" + U1), push(U2, "run1:p1:" + U2)]
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, rows) == 2
    with psycopg.connect(app_db) as conn:      # a resumed send records the same pushes again
        assert record_sent(conn, rows + [rows[0]]) == 0
    assert stored(app_db) == [
        (U1, 3, AS_OF, "🎯 The target: Dunk Lows 👟", "https://tradeblock.us/product/x?productVariantId=v1",
         "run1:p1:" + U1),
        (U2, 3, AS_OF, "🎯 The target: Dunk Lows 👟", "https://tradeblock.us/product/x?productVariantId=v1",
         "run1:p1:" + U2)]


def test_duplicate_keys_in_one_batch_insert_once(app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, [push(U1, "k"), push(U1, "k")]) == 1
    assert len(stored(app_db)) == 1


def test_rollback_of_the_callers_transaction_records_nothing(app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, [push(U1, "k1")]) == 1
        conn.rollback()                          # e.g. the ledger update failed
    assert stored(app_db) == []


def test_mappings_are_accepted_and_incomplete_rows_refused(app_db: str) -> None:
    row = {"user_id": U1, "layer_id": 5, "sent_at": AS_OF, "send_key": "k2"}   # texts and deep link optional
    with psycopg.connect(app_db) as conn:
        assert record_sent(conn, [row]) == 1
        with pytest.raises(StateError, match="send_key"):
            record_sent(conn, [{"user_id": U2, "layer_id": 3, "sent_at": AS_OF}])
        with pytest.raises(StateError, match="naive"):
            record_sent(conn, [push(U2, "k3", sent_at=AS_OF.replace(tzinfo=None))])
        assert record_sent(conn, []) == 0
    assert [(r[0], r[1], r[3], r[4]) for r in stored(app_db)] == [(U1, 5, None, None)]


def test_a_layer_missing_from_the_state_table_is_explained(app_db: str) -> None:
    with psycopg.connect(app_db) as conn, pytest.raises(StateError, match="notification_layers"):
        record_sent(conn, [push(U1, "k", layer=9)])


def test_recorded_pushes_drive_the_next_check(app_db: str, tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, state_dsn=app_db)
    with psycopg.connect(app_db) as conn:
        record_sent(conn, [push(U1, "k1", sent_at=AS_OF - timedelta(hours=1))])
    decision = filter_audience(settings, [U1, U2], 3, AS_OF)
    assert decision.eligible == [U2] and decision.excluded["layer_3_cooldown_hours"] == [U1]
