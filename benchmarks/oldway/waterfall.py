"""Old-way Layer 5 new-user waterfall, in the style of ``generate_new_user_waterfall.py``.

Same audience as audiences/layer5_new_user_waterfall.yaml (one row per user, deterministic
ties), computed the original way: the new users by an f-string query, one bulk completion
query per level with ``compare_and_remove`` in Python, the four-step target-shoe fallback
(one query per step for the users still lacking a shoe), the metrics JSON with checksums.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.oldway.runtime import (
    TEST_USER,
    Context,
    Written,
    execute_query,
    write_csv,
)

NEW_USERS_SQL = """
SELECT u.id AS user_id, u.username, u.first_name, u.bio, u.created_at
FROM users u
WHERE u.created_at BETWEEN %(as_of)s::timestamptz - INTERVAL '{max_days} days'
                       AND %(as_of)s::timestamptz - INTERVAL '{min_hours} hours'
  AND u.deleted_at = 0 AND u.first_name IS NOT NULL
  AND EXISTS (
    SELECT 1 FROM user_preferences up
    JOIN attribute_preferences ap ON up.id = ap.user_preference_id
    JOIN attributes a ON ap.attribute_id = a.id
    JOIN attribute_values av ON ap.attribute_value_id = av.id
    WHERE up.user_id = u.id AND a.name = 'mens_size' AND ap.preferred = TRUE)
ORDER BY u.created_at DESC
"""

# Level -> (name, file prefix, query returning the users who COMPLETED the step).
LEVELS: list[tuple[int, str, str, str | None]] = [
    (
        1,
        "no_shoes",
        "no-shoes",
        "SELECT DISTINCT user_id FROM inventory_items WHERE user_id = ANY(%(user_ids)s::uuid[])",
    ),
    (
        2,
        "no_bio",
        "no-bio",
        "SELECT id AS user_id FROM users WHERE id = ANY(%(user_ids)s::uuid[]) AND bio IS NOT NULL AND TRIM(bio) <> ''",
    ),
    (
        3,
        "no_offers",
        "no-offers",
        "SELECT DISTINCT creator_user_id AS user_id FROM offers WHERE creator_user_id = ANY(%(user_ids)s::uuid[])",
    ),
    (
        4,
        "no_wishlist",
        "no-wishlist",
        "SELECT DISTINCT user_id FROM wishlist_items WHERE user_id = ANY(%(user_ids)s::uuid[]) AND deleted_at = 0",
    ),
    (5, "new_stars", "new-stars", None),
]

TARGET_STEPS = [  # the fallback chain, each a DISTINCT ON per user
    (
        "desired_item",
        """
        SELECT DISTINCT ON (di.user_id) di.user_id, p.name AS product_name, di.product_variant_id AS variant_id
        FROM desired_items di JOIN product_variants pv ON di.product_variant_id = pv.id
        JOIN products p ON pv.product_id = p.id
        WHERE di.user_id = ANY(%(user_ids)s::uuid[]) AND di.deleted_at = 0
        ORDER BY di.user_id, di.offers_count DESC, di.created_at DESC, di.id""",
    ),
    (
        "recent_offer",
        """
        SELECT DISTINCT ON (o.creator_user_id) o.creator_user_id AS user_id, p.name AS product_name,
               oi.product_variant_id AS variant_id
        FROM offers o JOIN offer_items oi ON o.id = oi.offer_id
        JOIN product_variants pv ON oi.product_variant_id = pv.id JOIN products p ON pv.product_id = p.id
        WHERE o.creator_user_id = ANY(%(user_ids)s::uuid[])
        ORDER BY o.creator_user_id, o.created_at DESC, o.id, oi.id""",
    ),
    (
        "wishlist_item",
        """
        SELECT DISTINCT ON (wi.user_id) wi.user_id, p.name AS product_name, wi.product_variant_id AS variant_id
        FROM wishlist_items wi JOIN product_variants pv ON wi.product_variant_id = pv.id
        JOIN products p ON pv.product_id = p.id
        WHERE wi.user_id = ANY(%(user_ids)s::uuid[]) AND wi.deleted_at = 0
        ORDER BY wi.user_id, wi.created_at DESC, wi.id""",
    ),
    (
        "comprehensive_offer_target",
        """
        SELECT DISTINCT ON (o.creator_user_id) o.creator_user_id AS user_id,
               COALESCE(p.name, 'Unknown Product') AS product_name, oi.product_variant_id AS variant_id
        FROM offers o JOIN offer_items oi ON o.id = oi.offer_id
        LEFT JOIN product_variants pv ON oi.product_variant_id = pv.id LEFT JOIN products p ON pv.product_id = p.id
        WHERE o.creator_user_id = ANY(%(user_ids)s::uuid[])
        ORDER BY o.creator_user_id, o.created_at DESC, o.id, oi.id""",
    ),
]

BASIC_COLUMNS = ["user_id", "username", "firstName", "new_user_level"]
TARGET_COLUMNS = BASIC_COLUMNS + ["top_target_shoe", "top_target_shoe_variantid"]


def compare_and_remove(
    pool: list[dict[str, Any]], completed: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the pool into (users who did NOT complete the step, the remaining pool)."""
    extracted, remaining = [], []
    for user in pool:
        (remaining if user["user_id"] in completed else extracted).append(user)
    return extracted, remaining


def get_top_target_shoe_for_users(ctx: Context, user_ids: list[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for source, query in TARGET_STEPS:
        lacking = [u for u in user_ids if u not in found]
        if not lacking:
            break
        for row in execute_query(ctx, query, {"user_ids": lacking}):
            found[str(row["user_id"])] = {
                "top_target_shoe": row["product_name"],
                "top_target_shoe_variantid": str(row["variant_id"]),
                "source": source,
            }
    return found


def generate(ctx: Context) -> list[Written]:
    query = NEW_USERS_SQL.format(
        max_days=int(ctx.params.get("max_days", 14)), min_hours=int(ctx.params.get("min_hours", 12))
    )
    users = [{**row, "user_id": str(row["user_id"])} for row in execute_query(ctx, query, {"as_of": ctx.as_of})]
    if not users:
        return []
    metrics: dict[str, Any] = {"timestamp": ctx.timestamp, "initial_users": len(users), "levels": []}
    pool = users
    levels: list[tuple[int, str, str, list[dict[str, Any]]]] = []
    for level, name, prefix, completed_sql in LEVELS:
        if completed_sql is None:
            extracted, pool = pool, []
        else:
            completed = {
                str(r["user_id"]) for r in execute_query(ctx, completed_sql, {"user_ids": [u["user_id"] for u in pool]})
            }
            extracted, pool = compare_and_remove(pool, completed)
        for user in extracted:
            user["new_user_level"] = level
        levels.append((level, name, prefix, extracted))
        metrics["levels"].append({"level": level, "count": len(extracted), "remaining_after": len(pool)})

    needing = [u["user_id"] for level, _, _, extracted in levels if level >= 3 for u in extracted]
    targets = get_top_target_shoe_for_users(ctx, needing)
    written = []
    for level, name, prefix, extracted in levels:
        if not extracted:
            continue
        columns = BASIC_COLUMNS if level <= 2 else TARGET_COLUMNS
        rows = sorted(extracted, key=lambda u: u["user_id"])
        rows.sort(key=lambda u: u["created_at"], reverse=True)
        rows = [
            {
                "user_id": u["user_id"],
                "username": u["username"],
                "firstName": u["first_name"],
                "new_user_level": level,
                **targets.get(u["user_id"], {}),
            }
            for u in rows
        ]
        written.append(write_csv(ctx, name, f"{prefix}-new-user-{ctx.timestamp}.csv", columns, rows))
        written.append(
            write_csv(
                ctx,
                name,
                f"{prefix}-new-user-test-{ctx.timestamp}.csv",
                columns,
                [{**TEST_USER, "new_user_level": level}],
                is_test=True,
            )
        )
    metrics["final_remaining"] = len(pool)
    metrics["files"] = [
        {"path": str(w.path), "count": w.rows, "checksum": w.sha256, "is_test": w.is_test} for w in written
    ]
    (ctx.out_dir / f"waterfall-metrics-{ctx.timestamp}.json").write_text(json.dumps(metrics, indent=2))
    return written
