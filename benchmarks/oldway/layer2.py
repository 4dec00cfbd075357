"""Old-way Layer 2 trending closet, in the style of ``generate_layer_2_push_csv.py``.

Same audience as audiences/layer2_trending_closet.yaml (best-ranked trending product per
user, deterministic ties, first-row TEST files), computed the original way: f-string SQL
for the trending list and the owners, the "match to highest-ranked product" step as a
Python loop, one query per enrichment stat, a Python loop for the threshold and the split.
"""

from __future__ import annotations

from typing import Any

from benchmarks.oldway.runtime import (
    Context,
    Written,
    execute_query,
    ordinal,
    test_row,
    write_csv,
)

TRENDING_SQL = """
SELECT p.id AS product_id, p.name AS product_name, COUNT(DISTINCT o.id) AS offer_count
FROM products p
JOIN product_variants pv ON pv.product_id = p.id
JOIN offer_items oi ON oi.product_variant_id = pv.id
JOIN offers o ON o.id = oi.offer_id
WHERE o.created_at >= %(as_of)s::timestamptz - INTERVAL '{days} days'
  AND o.created_at <= %(as_of)s::timestamptz
GROUP BY p.id, p.name
ORDER BY offer_count DESC, p.name, p.id
LIMIT {limit}
"""

USERS_SQL = """
WITH user_sizes AS (
    SELECT DISTINCT ON (up.user_id) up.user_id, av.value AS shoe_size
    FROM user_preferences up
    JOIN attribute_preferences ap ON up.id = ap.user_preference_id
    JOIN attributes a ON ap.attribute_id = a.id
    JOIN attribute_values av ON ap.attribute_value_id = av.id
    WHERE a.name = 'mens_size' AND ap.preferred = TRUE
    ORDER BY up.user_id, ap.updated_at DESC, av.value
)
SELECT u.id AS user_id, u.username, u.first_name, us.shoe_size AS user_size, ua.last_active,
       p.id AS product_id, p.name AS product_name, ii.product_variant_id AS variant_id
FROM users u
JOIN user_activities ua ON u.id = ua.user_id
JOIN user_sizes us ON u.id = us.user_id
JOIN inventory_items ii ON u.id = ii.user_id
JOIN product_variants pv ON ii.product_variant_id = pv.id
JOIN products p ON pv.product_id = p.id
WHERE u.deleted_at = 0 AND u.email IS NOT NULL AND u.first_name IS NOT NULL AND u.username IS NOT NULL
  AND ua.last_active >= %(as_of)s::timestamptz - INTERVAL '{activity_days} days'
  AND ii.status = 'OPEN_FOR_TRADE'
  AND p.id IN ({product_ids})
"""

WISHLIST_COUNTS_SQL = """
SELECT wi.product_variant_id AS variant_id, COUNT(*) AS wishlist_count
FROM wishlist_items wi JOIN users u ON wi.user_id = u.id
WHERE wi.product_variant_id = ANY(%(variant_ids)s::uuid[]) AND wi.deleted_at = 0 AND u.deleted_at = 0
GROUP BY wi.product_variant_id
"""

SIZES_SQL = """
SELECT pv.id AS variant_id, COALESCE(pv.index_cache->>'mens_size', 'Unknown') AS size
FROM product_variants pv WHERE pv.id = ANY(%(variant_ids)s::uuid[])
"""

OPEN_OFFERS_SQL = """
SELECT oi.product_variant_id AS variant_id, COUNT(DISTINCT o.id) AS open_offers
FROM offer_items oi JOIN offers o ON oi.offer_id = o.id
WHERE oi.product_variant_id = ANY(%(variant_ids)s::uuid[])
  AND o.offer_status IN ('OPEN', 'PENDING')
  AND o.created_at >= %(as_of)s::timestamptz - INTERVAL '30 days' AND o.created_at <= %(as_of)s::timestamptz
  AND o.deleted_at = 0
GROUP BY oi.product_variant_id
"""

COLUMNS = [
    "user_id",
    "username",
    "firstName",
    "usersize",
    "product_name",
    "trending_rank",
    "variantID",
    "relevant_variant_size",
    "wishlist_count",
    "variant_open_offers",
    "lastActive",
]


def get_trending_products_weekly(ctx: Context, lookback_days: int, limit: int) -> list[dict[str, Any]]:
    products = execute_query(ctx, TRENDING_SQL.format(days=lookback_days, limit=limit), {"as_of": ctx.as_of})
    for rank, product in enumerate(products, start=1):
        product["rank_number"] = rank
        product["trending_rank"] = ordinal(rank)
    return products


def get_users_with_trending_products(
    ctx: Context, products: list[dict[str, Any]], activity_days: int
) -> list[dict[str, Any]]:
    ids = ", ".join(f"'{p['product_id']}'" for p in products)
    return execute_query(ctx, USERS_SQL.format(activity_days=activity_days, product_ids=ids), {"as_of": ctx.as_of})


def match_to_highest_ranked(owners: list[dict[str, Any]], products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per user, the best-ranked trending product they own (lowest variant id among its variants)."""
    ranks = {str(p["product_id"]): p for p in products}
    best: dict[str, dict[str, Any]] = {}
    for row in owners:
        product = ranks[str(row["product_id"])]
        key = (product["rank_number"], str(row["variant_id"]))
        user_id = str(row["user_id"])
        if user_id not in best or key < best[user_id]["_key"]:
            best[user_id] = {
                **row,
                "_key": key,
                "rank_number": product["rank_number"],
                "trending_rank": product["trending_rank"],
            }
    return list(best.values())


def bulk_map(ctx: Context, query: str, ids: list[str], key: str, value: str) -> dict[str, Any]:
    rows = execute_query(ctx, query, {"variant_ids": ids, "as_of": ctx.as_of})
    return {str(r[key]): r[value] for r in rows}


def generate(ctx: Context) -> list[Written]:
    products = get_trending_products_weekly(
        ctx, int(ctx.params.get("lookback_days", 7)), int(ctx.params.get("trending_limit", 10))
    )
    if not products:
        return []
    owners = get_users_with_trending_products(ctx, products, int(ctx.params.get("activity_days", 90)))
    users = match_to_highest_ranked(owners, products)
    variant_ids = sorted({str(u["variant_id"]) for u in users})
    wishlist = bulk_map(ctx, WISHLIST_COUNTS_SQL, variant_ids, "variant_id", "wishlist_count")
    sizes = bulk_map(ctx, SIZES_SQL, variant_ids, "variant_id", "size")
    open_offers = bulk_map(ctx, OPEN_OFFERS_SQL, variant_ids, "variant_id", "open_offers")

    top1: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for user in users:
        variant_id = str(user["variant_id"])
        row = {
            "user_id": str(user["user_id"]),
            "username": user["username"],
            "firstName": user["first_name"],
            "usersize": user["user_size"],
            "product_name": user["product_name"],
            "trending_rank": user["trending_rank"],
            "variantID": variant_id,
            "relevant_variant_size": sizes.get(variant_id, "Unknown"),
            "wishlist_count": wishlist.get(variant_id, 0),
            "variant_open_offers": open_offers.get(variant_id, 0),
            "lastActive": user["last_active"],
            "rank_number": user["rank_number"],
        }
        if row["variant_open_offers"] < 2:
            continue
        (top1 if row["trending_rank"] == "1st" else rest).append(row)
    if not top1 and not rest:
        return []

    written = []
    for name, prefix, rows in (
        ("trending_top1", "trending-closet-items-top1", top1),
        ("trending", "trending-closet-items", rest),
    ):
        rows.sort(key=lambda r: (r["rank_number"], r["user_id"]))
        written.append(write_csv(ctx, name, f"{prefix}_{ctx.timestamp}.csv", COLUMNS, rows))
        if rows:
            test = test_row(COLUMNS, rows, ["user_id", "username", "firstName", "usersize", "lastActive"])
            written.append(write_csv(ctx, name, f"{prefix}_TEST_{ctx.timestamp}.csv", COLUMNS, [test], is_test=True))
    return written
