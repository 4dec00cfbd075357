"""Old-way showcase, in the style of ``generate_showcase_push_csvs.py``.

Same audiences as audiences/showcase.yaml (user_id first in every file, first-row TEST
files), computed the original way: one query for the product stats, one f-string query
per audience, one query per variant stat, Python loops to enrich, filter and write.
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

PRODUCT_STATS_SQL = """
SELECT
  (SELECT COUNT(DISTINCT o.id) FROM product_variants pv
   JOIN offer_items oi ON pv.id = oi.product_variant_id JOIN offers o ON oi.offer_id = o.id
   WHERE pv.product_id = '{product_id}'
     AND o.created_at >= %(as_of)s::timestamptz - INTERVAL '7 days' AND o.created_at <= %(as_of)s::timestamptz
  ) AS product_offers_7d,
  (SELECT COUNT(DISTINCT t.id) FROM product_variants pv
   JOIN offer_items oi ON pv.id = oi.product_variant_id JOIN trades t ON oi.offer_id = t.offer_id
   WHERE pv.product_id = '{product_id}' AND t.validation_passed_date IS NOT NULL
     AND t.validation_passed_date >= %(as_of)s::timestamptz - INTERVAL '30 days'
     AND t.validation_passed_date <= %(as_of)s::timestamptz
  ) AS product_trades_30d
"""

ELIGIBLE = """
WITH user_size_preferences AS (
    SELECT up.user_id, av.value AS shoe_size
    FROM user_preferences up
    JOIN attribute_preferences ap ON up.id = ap.user_preference_id
    JOIN attributes a ON ap.attribute_id = a.id
    JOIN attribute_values av ON ap.attribute_value_id = av.id
    WHERE a.name = 'mens_size' AND ap.preferred = TRUE
),
eligible AS (
    SELECT u.id AS user_id, u.first_name, usp.shoe_size AS user_size, ua.last_active
    FROM users u
    JOIN user_activities ua ON u.id = ua.user_id
    JOIN user_size_preferences usp ON u.id = usp.user_id
    WHERE u.deleted_at = 0 AND u.email IS NOT NULL AND u.first_name IS NOT NULL
      AND ua.last_active >= %(as_of)s::timestamptz - INTERVAL '{activity_days} days'
)
"""

HAVES_SQL = (
    ELIGIBLE
    + """
SELECT e.*, ii.product_variant_id AS variant_id
FROM eligible e
JOIN inventory_items ii ON e.user_id = ii.user_id
JOIN product_variants pv ON ii.product_variant_id = pv.id
WHERE pv.product_id = '{product_id}' AND ii.status = 'OPEN_FOR_TRADE'
"""
)

WANTS_SQL = (
    ELIGIBLE
    + """
SELECT e.*, wi.product_variant_id AS variant_id
FROM eligible e
JOIN wishlist_items wi ON e.user_id = wi.user_id
JOIN product_variants pv ON wi.product_variant_id = pv.id
WHERE pv.product_id = '{product_id}' AND wi.deleted_at = 0
"""
)

EVERYBODY_ELSE_SQL = (
    ELIGIBLE
    + """
SELECT e.*, pv.id AS variant_id
FROM eligible e
JOIN product_variants pv ON pv.product_id = '{product_id}' AND pv.index_cache->>'mens_size' = e.user_size
WHERE NOT EXISTS (
    SELECT 1 FROM inventory_items ii JOIN product_variants v ON ii.product_variant_id = v.id
    WHERE ii.user_id = e.user_id AND v.product_id = '{product_id}' AND ii.status = 'OPEN_FOR_TRADE')
  AND NOT EXISTS (
    SELECT 1 FROM wishlist_items wi JOIN product_variants v ON wi.product_variant_id = v.id
    WHERE wi.user_id = e.user_id AND v.product_id = '{product_id}' AND wi.deleted_at = 0)
"""
)

VARIANT_STATS_SQL = {
    "wishlist_count": """
        SELECT wi.product_variant_id AS variant_id, COUNT(*) AS n
        FROM wishlist_items wi JOIN users u ON wi.user_id = u.id
        WHERE wi.product_variant_id = ANY(%(variant_ids)s::uuid[]) AND wi.deleted_at = 0 AND u.deleted_at = 0
        GROUP BY wi.product_variant_id""",
    "inventory_count": """
        SELECT ii.product_variant_id AS variant_id, COUNT(*) AS n
        FROM inventory_items ii JOIN users u ON ii.user_id = u.id
        WHERE ii.product_variant_id = ANY(%(variant_ids)s::uuid[]) AND ii.status = 'OPEN_FOR_TRADE'
          AND u.deleted_at = 0
        GROUP BY ii.product_variant_id""",
    "variant_offers_7d": """
        SELECT oi.product_variant_id AS variant_id, COUNT(DISTINCT o.id) AS n
        FROM offer_items oi JOIN offers o ON oi.offer_id = o.id
        WHERE oi.product_variant_id = ANY(%(variant_ids)s::uuid[])
          AND o.created_at >= %(as_of)s::timestamptz - INTERVAL '7 days' AND o.created_at <= %(as_of)s::timestamptz
        GROUP BY oi.product_variant_id""",
    "variant_open_offers": """
        SELECT oi.product_variant_id AS variant_id, COUNT(DISTINCT o.id) AS n
        FROM offer_items oi JOIN offers o ON oi.offer_id = o.id
        WHERE oi.product_variant_id = ANY(%(variant_ids)s::uuid[]) AND o.offer_status IN ('OPEN', 'PENDING')
          AND o.created_at >= %(as_of)s::timestamptz - INTERVAL '30 days' AND o.created_at <= %(as_of)s::timestamptz
          AND o.deleted_at = 0
        GROUP BY oi.product_variant_id""",
    "relevant_variant_size": """
        SELECT pv.id AS variant_id, COALESCE(pv.index_cache->>'mens_size', 'Unknown') AS n
        FROM product_variants pv WHERE pv.id = ANY(%(variant_ids)s::uuid[])""",
}

HAVES_COLUMNS = [
    "user_id",
    "firstName",
    "usersize",
    "variantID",
    "relevant_variant_size",
    "wishlist_count",
    "variant_open_offers",
    "variant_offers_7d",
    "product_offers_7d",
    "product_trades_30d",
    "lastActive",
]
OTHERS_COLUMNS = [
    "user_id",
    "firstName",
    "usersize",
    "variantID",
    "relevant_variant_size",
    "inventory_count",
    "variant_offers_7d",
    "product_offers_7d",
    "product_trades_30d",
    "lastActive",
]
EMPTY_TEST = {
    "variantID": "N/A",
    "relevant_variant_size": "N/A",
    "wishlist_count": 0,
    "inventory_count": 0,
    "variant_open_offers": 0,
    "variant_offers_7d": 0,
    "product_offers_7d": 0,
    "product_trades_30d": 0,
    "lastActive": "2025-08-06",
}


def get_audience(ctx: Context, query: str, product_id: str, activity_days: int) -> list[dict[str, Any]]:
    return execute_query(ctx, query.format(product_id=product_id, activity_days=activity_days), {"as_of": ctx.as_of})


def generate(ctx: Context) -> list[Written]:
    product_id = str(ctx.params["product_id"])
    activity_days = int(ctx.params.get("activity_days", 90))
    stats = execute_query(ctx, PRODUCT_STATS_SQL.format(product_id=product_id), {"as_of": ctx.as_of})[0]
    audiences = {
        name: get_audience(ctx, query, product_id, activity_days)
        for name, query in (("haves", HAVES_SQL), ("wants", WANTS_SQL), ("everybody_else", EVERYBODY_ELSE_SQL))
    }
    if not any(audiences.values()):
        return []
    variant_ids = sorted({str(r["variant_id"]) for rows in audiences.values() for r in rows})
    variant_stats = {
        stat: {
            str(r["variant_id"]): r["n"]
            for r in execute_query(ctx, query, {"variant_ids": variant_ids, "as_of": ctx.as_of})
        }
        for stat, query in VARIANT_STATS_SQL.items()
    }

    enriched: dict[str, list[dict[str, Any]]] = {}
    for name, rows in audiences.items():
        out = []
        for user in rows:
            variant_id = str(user["variant_id"])
            row = {
                "user_id": str(user["user_id"]),
                "firstName": user["first_name"],
                "usersize": user["user_size"],
                "variantID": variant_id,
                "lastActive": user["last_active"],
                "product_offers_7d": stats["product_offers_7d"],
                "product_trades_30d": stats["product_trades_30d"],
            }
            for stat, values in variant_stats.items():
                row[stat] = values.get(variant_id, "Unknown" if stat == "relevant_variant_size" else 0)
            if name == "haves" and row["variant_open_offers"] < 2:
                continue
            out.append(row)
        out.sort(key=lambda r: (r["user_id"], r["variantID"], r["usersize"]))
        enriched[name] = out

    written = []
    p8 = product_id[:8]
    for name, prefix, columns in (
        ("haves", "showcase-haves", HAVES_COLUMNS),
        ("wants", "showcase-wants", OTHERS_COLUMNS),
        ("everybody_else", "showcase-everybody-else", OTHERS_COLUMNS),
    ):
        rows = enriched[name]
        written.append(write_csv(ctx, name, f"{prefix}_{p8}_{ctx.timestamp}.csv", columns, rows))
        if rows:
            test = test_row(columns, rows, ["user_id", "firstName", "usersize", "lastActive"])
        else:  # the original's stand-in values when there is no production row
            test = {
                **test_row(columns, [], ["user_id", "firstName", "usersize"]),
                **{k: v for k, v in EMPTY_TEST.items() if k in columns},
            }
        written.append(write_csv(ctx, name, f"{prefix}_{p8}_TEST_{ctx.timestamp}.csv", columns, [test], is_test=True))
    return written
