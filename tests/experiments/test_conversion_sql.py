"""The project's conversion queries (sql/conversions/*.sql), each run on hand-made app rows.

Every conversion the project ships is run (a new one without a case here fails the enumeration test); the
window is (10:00, 12:00] of one day, and each row below is placed to say one rule: inside, on either bound,
before, after, soft-deleted, an offer idea, a trade's two sides or a public offer's one. The expected rows
are read off those placements by hand, not computed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import psycopg
import pytest

from engine.db import SourcePool
from engine.experiments.conversions import fetch_conversions, known_conversions

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
START = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
END = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
A, B, C, D = (f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 5))


def at(clock: str) -> datetime:
    hours, minutes = map(int, clock.split(":"))
    return datetime(2026, 11, 30, hours, minutes, tzinfo=timezone.utc)


# conversion -> the (user, converted_at) rows it must return for the rows `_fill` writes
EXPECTED: dict[str, set[tuple[str, datetime]]] = {
    # A's offer at 10:30 (inside); B's at 12:00 (the end is inside). Not: A's at 10:00 (the start is outside),
    # C's offer idea at 11:00, D's deleted offer at 11:00, B's at 12:30; nor the offers the trades are made on
    # (created at 08:00).
    "created_offer": {(A, at("10:30")), (B, at("12:00"))},
    # the trade at 11:00 on A's offer to B converts both; the one at 11:30 on C's public offer (no receiver)
    # converts C alone. Not: the deleted trade at 11:15 (D's offer to A), the trade at 09:00 (A's offer to D).
    "made_trade": {(A, at("11:00")), (B, at("11:00")), (C, at("11:30"))},
    # last active at 11:00 (A) and 12:00 (C); not B (09:00) nor D (12:01)
    "active_again": {(A, at("11:00")), (C, at("12:00"))},
    # A's pair at 10:45; not B's deleted one at 11:00 nor C's at 13:00
    "added_to_closet": {(A, at("10:45"))},
}


def _fill(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for user in (A, B, C, D):
            conn.execute("INSERT INTO users (id, username) VALUES (%s, %s)", (user, user[-4:]))
        offers = [  # (creator, receiver, created, is idea, deleted_at)
            (A, None, "10:30", False, 0),
            (A, None, "10:00", False, 0),
            (B, None, "12:00", False, 0),
            (C, None, "11:00", True, 0),
            (D, None, "11:00", False, 1764496800),
            (B, None, "12:30", False, 0),
        ]
        for creator, receiver, created, idea, deleted in offers:
            conn.execute(
                "INSERT INTO offers (creator_user_id, receiver_user_id, created_at, is_offer_idea, deleted_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (creator, receiver, at(created), idea, deleted),
            )
        trades = [  # (offer creator, receiver, trade created, trade deleted_at); offers made at 08:00
            (A, B, "11:00", 0),
            (C, None, "11:30", 0),
            (D, A, "11:15", 1764496800),
            (A, D, "09:00", 0),
        ]
        for creator, receiver, created, deleted in trades:
            conn.execute(
                "WITH offer AS (INSERT INTO offers (creator_user_id, receiver_user_id, created_at)"
                " VALUES (%s, %s, %s) RETURNING id)"
                " INSERT INTO trades (offer_id, created_at, deleted_at) SELECT id, %s, %s FROM offer",
                (creator, receiver, at("08:00"), at(created), deleted),
            )
        for user, active in ((A, "11:00"), (B, "09:00"), (C, "12:00"), (D, "12:01")):
            conn.execute("INSERT INTO user_activities (user_id, last_active) VALUES (%s, %s)", (user, at(active)))
        [(product,)] = conn.execute("INSERT INTO products (name) VALUES ('Jordan 1') RETURNING id").fetchall()
        [(variant,)] = conn.execute(
            "INSERT INTO product_variants (product_id) VALUES (%s) RETURNING id", (product,)
        ).fetchall()
        for user, created, deleted in ((A, "10:45", 0), (B, "11:00", 1764496800), (C, "13:00", 0)):
            conn.execute(
                "INSERT INTO inventory_items (user_id, product_variant_id, created_at, deleted_at)"
                " VALUES (%s, %s, %s, %s)",
                (user, variant, at(created), deleted),
            )


@pytest.fixture(scope="module")
def filled(create_database: Callable[..., str]) -> str:
    dsn = create_database()
    _fill(dsn)
    return dsn


def test_every_shipped_conversion_has_a_case() -> None:
    assert sorted(EXPECTED) == known_conversions(SQL_ROOT)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_conversion_returns_exactly_the_rows_inside_its_window(filled: str, name: str) -> None:
    with SourcePool(filled, size=1) as pool:
        table = fetch_conversions(pool, SQL_ROOT, name, START, END)
    found = {
        (user, datetime.fromisoformat(when))
        for user, when in zip(table.column("user_id").to_pylist(), table.column("converted_at").to_pylist())
    }
    assert found == EXPECTED[name]
    assert table.num_rows == len(EXPECTED[name])  # one row per conversion: none repeated
