"""Planting conversions in a development app database: the rows each ``sql/conversions/*.sql`` counts.

For tests and the demo of ``engine impact``: the caller (``engine.experiments.planting``) decides who
converts when; this module only writes the app rows that say so, valid under the app schema's
constraints (users exist, an offer behind every trade, a real product variant behind every closet item).
Never on production: ``engine seed --plant-conversions`` is a development command like ``engine seed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import psycopg

from engine.errors import ConfigError, SeedRefused

PLANTABLE = ("created_offer", "made_trade", "added_to_closet", "active_again")

# every statement reads (user id, time) pairs from two arrays, and skips ids that are not app users
_PAIRS = (
    "unnest(%s::uuid[], %s::timestamptz[]) AS v(user_id, at) WHERE EXISTS (SELECT 1 FROM users WHERE id = v.user_id)"
)
_STATEMENTS = {
    "created_offer": (
        "INSERT INTO offers (creator_user_id, created_at, updated_at) SELECT v.user_id, v.at, v.at FROM " + _PAIRS
    ),
    "made_trade": (
        "WITH made AS (INSERT INTO offers (creator_user_id, created_at, updated_at, offer_status, confirmed_trade_date)"
        " SELECT v.user_id, v.at, v.at, 'COMPLETED', v.at FROM " + _PAIRS + " RETURNING id, created_at)"
        " INSERT INTO trades (offer_id, created_at, updated_at, confirmed_trade_date)"
        " SELECT id, created_at, created_at, created_at FROM made"
    ),
    "added_to_closet": (
        "INSERT INTO inventory_items (user_id, product_variant_id, created_at, updated_at)"
        " SELECT v.user_id, (SELECT id FROM product_variants ORDER BY id LIMIT 1), v.at, v.at FROM " + _PAIRS
    ),
    # one row per user (user_activities.user_id is unique): the latest planted moment wins
    "active_again": (
        "INSERT INTO user_activities (user_id, last_active) SELECT DISTINCT ON (v.user_id) v.user_id, v.at FROM "
        + _PAIRS
        + " ORDER BY v.user_id, v.at DESC ON CONFLICT (user_id) DO UPDATE SET last_active = EXCLUDED.last_active"
    ),
}


def plant_rows(conn: psycopg.Connection, conversion: str, rows: Sequence[tuple[str, datetime]]) -> int:
    """Insert one conversion ``conversion`` per (user id, time) in ``rows``; how many were written."""
    statement = _STATEMENTS.get(conversion)
    if statement is None:
        raise ConfigError(
            f"cannot plant conversion {conversion!r}",
            hint=f"plantable conversions: {', '.join(PLANTABLE)}",
        )
    if not rows:
        return 0
    if conversion == "added_to_closet" and conn.execute("SELECT 1 FROM product_variants LIMIT 1").fetchone() is None:
        raise SeedRefused("no product variant to put in a closet", hint="seed the database first (engine seed)")
    return conn.execute(statement, ([u for u, _ in rows], [t for _, t in rows])).rowcount
