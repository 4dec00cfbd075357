"""Old-way Layer 3 recent activity, in the style of ``generate_layer_3_push_csvs.py``.

Same audience as audiences/layer3_recent_activity.yaml (window with its upper bound,
deterministic ties, first-row TEST files), computed the original way: one activity query,
a Python loop for the priority, one query per enrichment, Python loops for thresholds.
"""

from __future__ import annotations

from typing import Any

from benchmarks.oldway.runtime import (
    Context,
    Written,
    execute_query,
    test_row,
    write_csv,
)

PRIORITY = {"offer_created": 1, "closet_add": 2, "wishlist_add": 3}

ACTIVITY_SQL = """
WITH bounds AS (
    SELECT %(as_of)s::timestamptz - INTERVAL '{effective} hours' AS window_start,
           %(as_of)s::timestamptz - INTERVAL '{cooling} hours' AS window_end
),
recent_activity AS (
    SELECT ii.user_id, 'closet_add'::text AS action_type, p.name AS product_name,
           ii.product_variant_id AS variant_id, ii.created_at
    FROM inventory_items ii CROSS JOIN bounds b
    JOIN product_variants pv ON ii.product_variant_id = pv.id
    JOIN products p ON pv.product_id = p.id
    JOIN users u ON ii.user_id = u.id
    WHERE ii.created_at >= b.window_start AND ii.created_at < b.window_end
      AND ii.status = 'OPEN_FOR_TRADE' AND u.deleted_at = 0
    UNION ALL
    SELECT wi.user_id, 'wishlist_add'::text, p.name, wi.product_variant_id, wi.created_at
    FROM wishlist_items wi CROSS JOIN bounds b
    JOIN product_variants pv ON wi.product_variant_id = pv.id
    JOIN products p ON pv.product_id = p.id
    JOIN users u ON wi.user_id = u.id
    WHERE wi.created_at >= b.window_start AND wi.created_at < b.window_end
      AND wi.deleted_at = 0 AND u.deleted_at = 0
    UNION ALL
    SELECT o.creator_user_id, 'offer_created'::text, p.name, o.product_variant_id, o.created_at
    FROM (
        SELECT o.creator_user_id, o.created_at, oi.product_variant_id,
               ROW_NUMBER() OVER (PARTITION BY o.id ORDER BY oi.id ASC) AS item_rank
        FROM offers o CROSS JOIN bounds b
        JOIN offer_items oi ON o.id = oi.offer_id
        WHERE o.created_at >= b.window_start AND o.created_at < b.window_end
    ) o
    JOIN product_variants pv ON o.product_variant_id = pv.id
    JOIN products p ON pv.product_id = p.id
    JOIN users u ON o.creator_user_id = u.id
    WHERE o.item_rank = 1 AND u.deleted_at = 0
)
SELECT * FROM recent_activity
ORDER BY created_at DESC, product_name, variant_id
"""

PROFILES_SQL = """
WITH user_size_preferences AS (
    SELECT DISTINCT ON (up.user_id) up.user_id, av.value AS shoe_size
    FROM user_preferences up
    JOIN attribute_preferences ap ON up.id = ap.user_preference_id
    JOIN attributes a ON ap.attribute_id = a.id
    JOIN attribute_values av ON ap.attribute_value_id = av.id
    WHERE a.name = 'mens_size' AND ap.preferred = TRUE
    ORDER BY up.user_id, ap.updated_at DESC, av.value
)
SELECT u.id AS user_id, u.username, u.first_name, usp.shoe_size AS user_size, ua.last_active
FROM users u
LEFT JOIN user_size_preferences usp ON u.id = usp.user_id
LEFT JOIN user_activities ua ON u.id = ua.user_id
WHERE u.id = ANY(%(user_ids)s::uuid[]) AND u.deleted_at = 0
"""

SIZES_SQL = """
SELECT pv.id AS variant_id, COALESCE(pv.index_cache->>'mens_size', 'Unknown') AS size
FROM product_variants pv WHERE pv.id = ANY(%(variant_ids)s::uuid[])
"""

INVENTORY_COUNTS_SQL = """
SELECT ii.product_variant_id AS variant_id, COUNT(*) AS inventory_count
FROM inventory_items ii JOIN users u ON ii.user_id = u.id
WHERE ii.product_variant_id = ANY(%(variant_ids)s::uuid[])
  AND ii.status = 'OPEN_FOR_TRADE' AND u.deleted_at = 0
GROUP BY ii.product_variant_id
"""

WISHLIST_COUNTS_SQL = """
SELECT wi.product_variant_id AS variant_id, COUNT(*) AS wishlist_count
FROM wishlist_items wi JOIN users u ON wi.user_id = u.id
WHERE wi.product_variant_id = ANY(%(variant_ids)s::uuid[])
  AND wi.deleted_at = 0 AND u.deleted_at = 0
GROUP BY wi.product_variant_id
"""

OFFER_COLUMNS = [
    "user_id",
    "username",
    "firstName",
    "usersize",
    "relevant_variant_size",
    "product_name",
    "variantID",
    "lastActive",
    "inventory_count",
]
CLOSET_COLUMNS = OFFER_COLUMNS[:-1] + ["wishlist_count"]
OUTPUTS = [  # (engine output name, action, file prefix, columns)
    ("offer_creators", "offer_created", "recent-offer-creators", OFFER_COLUMNS),
    ("closet_adders", "closet_add", "recent-closet-adders", CLOSET_COLUMNS),
    ("wishlist_adders", "wishlist_add", "recent-wishlist-adders", OFFER_COLUMNS),
]


def get_daily_activity_data(ctx: Context, lookback_hours: int, cooling_hours: int) -> list[dict[str, Any]]:
    query = ACTIVITY_SQL.format(effective=lookback_hours - cooling_hours, cooling=cooling_hours)
    return execute_query(ctx, query, {"as_of": ctx.as_of})


def prioritise(activity: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Newest first; a user's record is replaced only by a strictly higher priority."""
    best: dict[str, dict[str, Any]] = {}
    for row in activity:
        user_id = str(row["user_id"])
        current = best.get(user_id)
        if current is None or PRIORITY[row["action_type"]] < PRIORITY[current["action_type"]]:
            best[user_id] = row
    return best


def bulk_map(ctx: Context, query: str, ids: list[str], key: str, value: str) -> dict[str, Any]:
    if not ids:
        return {}
    rows = execute_query(ctx, query, {"variant_ids": ids})
    return {str(r[key]): r[value] for r in rows}


def generate(ctx: Context) -> list[Written]:
    lookback = int(ctx.params.get("lookback_hours", 48))
    cooling = int(ctx.params.get("cooling_hours", 12))
    activity = get_daily_activity_data(ctx, lookback, cooling)
    if not activity:
        return []
    chosen = prioritise(activity)
    profiles = {str(r["user_id"]): r for r in execute_query(ctx, PROFILES_SQL, {"user_ids": list(chosen)})}
    variants = sorted({str(r["variant_id"]) for r in chosen.values()})
    sizes = bulk_map(ctx, SIZES_SQL, variants, "variant_id", "size")
    have_ids = sorted({str(r["variant_id"]) for r in chosen.values() if r["action_type"] != "closet_add"})
    want_ids = sorted({str(r["variant_id"]) for r in chosen.values() if r["action_type"] == "closet_add"})
    inventory = bulk_map(ctx, INVENTORY_COUNTS_SQL, have_ids, "variant_id", "inventory_count")
    wishlist = bulk_map(ctx, WISHLIST_COUNTS_SQL, want_ids, "variant_id", "wishlist_count")

    segments: dict[str, list[dict[str, Any]]] = {action: [] for action in PRIORITY}
    for user_id, act in chosen.items():
        profile = profiles.get(user_id)
        if not profile or not (profile["first_name"] or "").strip() or not (profile["user_size"] or "").strip():
            continue
        variant_id = str(act["variant_id"])
        row = {
            "user_id": user_id,
            "username": profile["username"],
            "firstName": profile["first_name"],
            "usersize": profile["user_size"],
            "relevant_variant_size": sizes.get(variant_id, "Unknown"),
            "product_name": act["product_name"],
            "variantID": variant_id,
            "lastActive": profile["last_active"],
            "created_at": act["created_at"],
        }
        if act["action_type"] == "closet_add":
            row["wishlist_count"] = wishlist.get(variant_id, 0)
            if row["wishlist_count"] < 2:
                continue
        else:
            row["inventory_count"] = inventory.get(variant_id, 0)
            if row["inventory_count"] < 3:
                continue
        segments[act["action_type"]].append(row)

    written = []
    for name, action, prefix, columns in OUTPUTS:
        rows = sorted(segments[action], key=lambda r: r["user_id"])
        rows.sort(key=lambda r: r["created_at"], reverse=True)  # stable: newest first, then user_id
        if not rows:
            continue
        written.append(write_csv(ctx, name, f"{prefix}_{ctx.timestamp}.csv", columns, rows))
        test = test_row(columns, rows, ["user_id", "username", "firstName", "usersize", "lastActive"])
        written.append(write_csv(ctx, name, f"{prefix}_TEST_{ctx.timestamp}.csv", columns, [test], is_test=True))
    return written
