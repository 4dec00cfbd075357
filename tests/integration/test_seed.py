"""The synthetic data generator against a real PostgreSQL: determinism, refusal, CLI, coverage.

Coverage checks are properties, not exact numbers: each audience the engine reproduces must
find someone in a 1,000-user seed (the demo size), and every data quirk the reference lists
must occur.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Callable, Iterator

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.conninfo import make_conninfo

from engine.appdb.schema import APP_TABLES
from engine.appdb.seed import most_offered_product, product_count, seed_database
from engine.cli.main import cli
from engine.config import FOUNDER
from engine.errors import SeedRefused

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)

# Per table: an md5 over every row in id order (the whole row as text, so every column counts).
FINGERPRINT_SQL = "SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {} AS t"


def fingerprints(conn: psycopg.Connection) -> dict[str, str]:
    conn.execute("SET timezone TO 'UTC'")  # timestamps render as text in the session's zone
    return {table: conn.execute(FINGERPRINT_SQL.format(table)).fetchone()[0] for table in APP_TABLES}


# Each database costs about a second to drop at the end of the session here, so the tests
# below share few of them.


def test_deterministic_and_replace_gives_fresh_data(create_database: Callable[..., str]) -> None:
    """Same parameters -> identical rows (ids included), whatever the session time zone; another seed -> other rows."""
    first, second = (create_database(app_schema=False, state=False) for _ in range(2))
    with (
        psycopg.connect(first, options="-c timezone=UTC") as conn_a,
        psycopg.connect(second, options="-c timezone=Pacific/Kiritimati", autocommit=True) as conn_b,
    ):
        seed_database(conn_a, users=300, seed=7, as_of=AS_OF)
        seed_database(conn_b, users=300, seed=7, as_of=AS_OF)
        reference = fingerprints(conn_a)
        assert fingerprints(conn_b) == reference
        assert all(reference.values())  # every table has rows, so the comparison covers real data

        seed_database(conn_b, users=300, seed=8, as_of=AS_OF, replace=True)
        other_seed = fingerprints(conn_b)
        for table in ("users", "inventory_items", "offers", "devices"):
            assert other_seed[table] != reference[table]

        # replacing in the same session (temporary helpers were cleaned up) restores the original data
        seed_database(conn_b, users=300, seed=7, as_of=AS_OF, replace=True)
        assert fingerprints(conn_b) == reference


def test_empty_existing_schema_is_reused_with_its_keys_and_indexes(app_db: str) -> None:
    """The bulk load drops keys and indexes; afterwards the catalog is what schema.sql created."""
    catalog = (
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relnamespace = 'public'::regnamespace ORDER BY 1"
    )
    constraints = (
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
    )
    with psycopg.connect(app_db, autocommit=True) as conn:
        before = conn.execute(catalog).fetchall(), conn.execute(constraints).fetchall()
        counts = seed_database(conn, users=100, seed=1, as_of=AS_OF)
        assert (conn.execute(catalog).fetchall(), conn.execute(constraints).fetchall()) == before
    assert len(before[0]) > 30 and len(before[1]) > 30  # keys, unique and foreign keys, plain indexes
    assert counts["users"] == 100
    assert counts["products"] == product_count(100) == 200  # the floor of 200 products


def test_cli_seed_creates_its_database_prints_counts_and_refuses_a_second_time(pg_admin_dsn: str) -> None:
    name = f"ae_test_seed_{uuid.uuid4().hex[:10]}"  # a database that does not exist yet
    dsn = make_conninfo(pg_admin_dsn, dbname=name)
    try:
        result = CliRunner().invoke(
            cli, ["seed", "--dsn", dsn, "--users", "500", "--seed", "3", "--as-of", "2026-11-23T12:30:00Z"]
        )
        assert result.exit_code == 0, result.output
        assert "created the database" in result.output and "seeded 500 users" in result.output
        assert "1 test user(s) with a device" in result.output
        assert any(line.split() == ["users", "500"] for line in result.output.splitlines())
        with psycopg.connect(dsn) as conn:  # the founder (default test user) can receive a TEST push
            tokens = conn.execute(
                "SELECT d.token FROM devices d WHERE d.user_id = %s", (FOUNDER["user_id"],)
            ).fetchall()
        assert tokens == [(f"test-token-{FOUNDER['user_id']}",)]
        again = CliRunner().invoke(cli, ["--json", "seed", "--dsn", dsn, "--users", "500"])
        assert again.exit_code == 1
        assert json.loads(again.output)["error"]["type"] == "SeedRefused"
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- coverage of a 1,000-user seed (the demo size) --------------------------------------------------------------


@pytest.fixture(scope="module")
def coverage_db(create_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    dsn = create_database(app_schema=False, state=False)
    with psycopg.connect(dsn) as conn:
        seed_database(conn, users=1000, seed=42, as_of=AS_OF)
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def count(conn: psycopg.Connection, query: str) -> int:
    return conn.execute(query, {"as_of": AS_OF}).fetchone()[0]


WINDOWS = {  # (lower, upper) bounds in hours before as_of, as the audiences use them
    "last 12 h": (0, 12),
    "12-36 h": (12, 36),
    "36-48 h": (36, 48),
    "2-7 days": (48, 168),
    "7-30 days": (168, 720),
    "older than 30 days": (720, 1_000_000),
}


@pytest.mark.parametrize("table", ["inventory_items", "wishlist_items", "offers"])
@pytest.mark.parametrize("window", list(WINDOWS))
def test_activity_in_every_window(coverage_db: psycopg.Connection, table: str, window: str) -> None:
    lower, upper = WINDOWS[window]
    n = count(
        coverage_db,
        f"SELECT count(*) FROM {table} WHERE created_at <= %(as_of)s - interval '{lower} hours' "
        f"AND created_at > %(as_of)s - interval '{upper} hours'",
    )
    assert n > 0


def test_nothing_after_as_of(coverage_db: psycopg.Connection) -> None:
    for table, column in [
        ("users", "created_at"),
        ("inventory_items", "created_at"),
        ("offers", "created_at"),
        ("wishlist_items", "created_at"),
        ("user_activities", "last_active"),
        ("devices", "updated_at"),
        ("trades", "validation_passed_date"),
    ]:
        assert count(coverage_db, f"SELECT count(*) FROM {table} WHERE {column} > %(as_of)s") == 0, table


def test_activity_never_before_signup(coverage_db: psycopg.Connection) -> None:
    for table in ("inventory_items", "wishlist_items", "offers"):
        user_col = "creator_user_id" if table == "offers" else "user_id"
        assert (
            count(
                coverage_db,
                f"SELECT count(*) FROM {table} x JOIN users u ON u.id = x.{user_col} WHERE x.created_at < u.created_at",
            )
            == 0
        ), table


QUIRKS = {
    "NULL first_name": "SELECT count(*) FROM users WHERE first_name IS NULL",
    "empty first_name": "SELECT count(*) FROM users WHERE first_name = ''",
    "NULL username": "SELECT count(*) FROM users WHERE username IS NULL",
    "NULL email": "SELECT count(*) FROM users WHERE email IS NULL",
    "soft-deleted user": "SELECT count(*) FROM users WHERE deleted_at > 0",
    "NULL bio": "SELECT count(*) FROM users WHERE bio IS NULL",
    "empty bio": "SELECT count(*) FROM users WHERE bio = ''",
    "whitespace bio": "SELECT count(*) FROM users WHERE bio <> '' AND btrim(bio, E' \\t\\n') = ''",
    "real bio": "SELECT count(*) FROM users WHERE btrim(bio) <> ''",
    "user without activity row": "SELECT count(*) FROM users u WHERE NOT EXISTS "
    "(SELECT 1 FROM user_activities a WHERE a.user_id = u.id)",
    "inactive > 90 days": "SELECT count(*) FROM user_activities WHERE last_active < %(as_of)s - interval '90 days'",
    "user created < 12 h ago": "SELECT count(*) FROM users WHERE created_at > %(as_of)s - interval '12 hours'",
    "user created > 14 days ago": "SELECT count(*) FROM users WHERE created_at < %(as_of)s - interval '14 days'",
    "user without preferences": "SELECT count(*) FROM users u WHERE NOT EXISTS "
    "(SELECT 1 FROM user_preferences p WHERE p.user_id = u.id)",
    "preferences without any size": "SELECT count(*) FROM user_preferences p WHERE NOT EXISTS "
    "(SELECT 1 FROM attribute_preferences ap WHERE ap.user_preference_id = p.id)",
    "only a non-preferred size": "SELECT count(*) FROM user_preferences p WHERE EXISTS (SELECT 1 FROM "
    "attribute_preferences ap WHERE ap.user_preference_id = p.id) AND NOT EXISTS "
    "(SELECT 1 FROM attribute_preferences ap WHERE ap.user_preference_id = p.id "
    "AND ap.preferred)",
    "only a womens size": "SELECT count(*) FROM user_preferences p WHERE EXISTS (SELECT 1 FROM attribute_preferences "
    "ap JOIN attributes a ON a.id = ap.attribute_id WHERE ap.user_preference_id = p.id AND "
    "a.name = 'womens_size') AND NOT EXISTS (SELECT 1 FROM attribute_preferences ap JOIN "
    "attributes a ON a.id = ap.attribute_id WHERE ap.user_preference_id = p.id "
    "AND a.name = 'mens_size')",
    "two preferred mens sizes": "SELECT count(*) FROM (SELECT ap.user_preference_id FROM attribute_preferences ap "
    "JOIN attributes a ON a.id = ap.attribute_id AND a.name = 'mens_size' "
    "WHERE ap.preferred GROUP BY 1 HAVING count(*) > 1) s",
    "related non-preferred size": "SELECT count(*) FROM attribute_preferences "
    "WHERE related_attribute_preference_id IS NOT NULL AND NOT preferred",
    "soft-deleted size preference": "SELECT count(*) FROM attribute_preferences WHERE deleted_at > 0 AND preferred",
    "half size value 10.5": "SELECT count(*) FROM attribute_values WHERE value = '10.5'",
    "variant with NULL index_cache": "SELECT count(*) FROM product_variants WHERE index_cache IS NULL",
    "variant without mens_size": "SELECT count(*) FROM product_variants WHERE NOT index_cache ? 'mens_size'",
    "product name with a double quote": "SELECT count(*) FROM products WHERE name LIKE '%%\"%%'",
    "product name with a comma": "SELECT count(*) FROM products WHERE name LIKE '%%,%%'",
    "product name with a single quote": "SELECT count(*) FROM products WHERE name LIKE '%%''%%'",
    "product name with non-ASCII": "SELECT count(*) FROM products WHERE name ~ '[^\\x01-\\x7e]'",
    "OPEN_FOR_TRADE item": "SELECT count(*) FROM inventory_items WHERE status = 'OPEN_FOR_TRADE'",
    "LOCKED_IN_TRADE item": "SELECT count(*) FROM inventory_items WHERE status = 'LOCKED_IN_TRADE'",
    "HAS_NEW_OWNER item": "SELECT count(*) FROM inventory_items WHERE status = 'HAS_NEW_OWNER'",
    "REMOVED item": "SELECT count(*) FROM inventory_items WHERE status = 'REMOVED'",
    "soft-deleted wishlist row": "SELECT count(*) FROM wishlist_items WHERE deleted_at > 0",
    "soft-deleted desired item": "SELECT count(*) FROM desired_items WHERE deleted_at > 0",
    "soft-deleted offer": "SELECT count(*) FROM offers WHERE deleted_at > 0",
    "PUBLIC offer": "SELECT count(*) FROM offers WHERE offer_type = 'PUBLIC'",
    "PRIVATE offer": "SELECT count(*) FROM offers WHERE offer_type = 'PRIVATE'",
    "CREATOR offer item": "SELECT count(*) FROM offer_items WHERE offer_item_owner = 'CREATOR'",
    "RECEIVER offer item": "SELECT count(*) FROM offer_items WHERE offer_item_owner = 'RECEIVER'",
    "offer with 3 items": "SELECT count(*) FROM (SELECT offer_id FROM offer_items GROUP BY 1 HAVING count(*) = 3) s",
    "trade validated within 30 days": "SELECT count(*) FROM trades "
    "WHERE validation_passed_date >= %(as_of)s - interval '30 days'",
    "user without device": "SELECT count(*) FROM users u WHERE NOT EXISTS "
    "(SELECT 1 FROM devices d WHERE d.user_id = u.id)",
    "user with several devices": "SELECT count(*) FROM (SELECT user_id FROM devices GROUP BY 1 "
    "HAVING count(DISTINCT updated_at) > 1) s",
    "device with NULL token": "SELECT count(*) FROM devices WHERE token IS NULL",
}
OFFER_STATUSES = [
    "OPEN",
    "COMPLETED",
    "FAILED",
    "DECLINED",
    "IN_PROGRESS",
    "ON_HOLD",
    "DRAFT",
    "RESCINDED",
    "EXPIRED",
    "COUNTERED",
    "PAUSED",
]


@pytest.mark.parametrize("quirk", list(QUIRKS))
def test_data_quirk_occurs(coverage_db: psycopg.Connection, quirk: str) -> None:
    assert count(coverage_db, QUIRKS[quirk]) > 0


def test_offer_statuses_are_the_real_list(coverage_db: psycopg.Connection) -> None:
    rows = dict(coverage_db.execute("SELECT offer_status, count(*) FROM offers GROUP BY 1").fetchall())
    assert sorted(rows) == sorted(OFFER_STATUSES)
    assert max(rows, key=rows.__getitem__) == "OPEN"


def test_product_popularity_is_skewed(coverage_db: psycopg.Connection) -> None:
    """The top 10 of 200 products (5 in 100) hold far more than 5 in 100 of the closet items."""
    share = coverage_db.execute(
        "SELECT sum(n) FILTER (WHERE rank <= 10)::float / sum(n) FROM (SELECT count(*) AS n, "
        "row_number() OVER (ORDER BY count(*) DESC) AS rank FROM inventory_items ii "
        "JOIN product_variants pv ON pv.id = ii.product_variant_id GROUP BY pv.product_id) s"
    ).fetchone()[0]
    assert share > 0.2


# --- the four audiences find people ---------------------------------------------------------------

SIZED = """sized AS (SELECT DISTINCT up.user_id FROM user_preferences up
             JOIN attribute_preferences ap ON ap.user_preference_id = up.id AND ap.preferred
             JOIN attributes a ON a.id = ap.attribute_id AND a.name = 'mens_size')"""
DEMAND = """inv AS (SELECT ii.product_variant_id, count(*) AS n FROM inventory_items ii
               JOIN users u ON u.id = ii.user_id AND u.deleted_at = 0
               WHERE ii.status = 'OPEN_FOR_TRADE' GROUP BY 1),
     wish AS (SELECT w.product_variant_id, count(*) AS n FROM wishlist_items w
               JOIN users u ON u.id = w.user_id AND u.deleted_at = 0
               WHERE w.deleted_at = 0 GROUP BY 1),
     open_offers AS (SELECT oi.product_variant_id, count(DISTINCT o.id) AS n FROM offers o
               JOIN offer_items oi ON oi.offer_id = o.id
               WHERE o.offer_status = 'OPEN' AND o.deleted_at = 0
                 AND o.created_at >= %(as_of)s - interval '30 days' GROUP BY 1)"""

# Layer 3: each user's best action in the last 36 h (offer > closet add > wishlist add, newest first),
# kept when the user is live, named and sized and the variant passes the demand threshold.
LAYER3 = f"""WITH {SIZED}, {DEMAND},
activity AS (
    SELECT ii.user_id, 2 AS priority, ii.created_at, ii.product_variant_id, 'closet_add' AS kind
    FROM inventory_items ii WHERE ii.status = 'OPEN_FOR_TRADE' AND ii.created_at >= %(as_of)s - interval '36 hours'
    UNION ALL
    SELECT w.user_id, 3, w.created_at, w.product_variant_id, 'wishlist_add'
    FROM wishlist_items w WHERE w.deleted_at = 0 AND w.created_at >= %(as_of)s - interval '36 hours'
    UNION ALL
    SELECT o.creator_user_id, 1, o.created_at,
           (SELECT oi.product_variant_id FROM offer_items oi WHERE oi.offer_id = o.id ORDER BY oi.id LIMIT 1),
           'offer_created'
    FROM offers o WHERE o.created_at >= %(as_of)s - interval '36 hours'),
best AS (SELECT DISTINCT ON (user_id) * FROM activity ORDER BY user_id, priority, created_at DESC)
SELECT count(*) FROM best b JOIN users u ON u.id = b.user_id AND u.deleted_at = 0 AND u.first_name <> ''
JOIN sized s ON s.user_id = u.id
LEFT JOIN inv ON inv.product_variant_id = b.product_variant_id
LEFT JOIN wish ON wish.product_variant_id = b.product_variant_id
WHERE b.kind = %(kind)s
  AND CASE b.kind WHEN 'closet_add' THEN coalesce(wish.n, 0) >= 2 ELSE coalesce(inv.n, 0) >= 3 END"""


@pytest.mark.parametrize("kind", ["offer_created", "closet_add", "wishlist_add"])
def test_layer3_finds_each_action(coverage_db: psycopg.Connection, kind: str) -> None:
    assert coverage_db.execute(LAYER3, {"as_of": AS_OF, "kind": kind}).fetchone()[0] > 0


# Layer 2: owners of the #1 trending product and of #2-#10 (active, complete profile, sized),
# whose owned variant has at least 2 open offers in 30 days.
LAYER2 = f"""WITH {SIZED}, {DEMAND},
trending AS (SELECT pv.product_id, row_number() OVER (ORDER BY count(DISTINCT o.id) DESC, pv.product_id) AS rank
             FROM offers o JOIN offer_items oi ON oi.offer_id = o.id
             JOIN product_variants pv ON pv.id = oi.product_variant_id
             WHERE o.created_at >= %(as_of)s - interval '7 days' GROUP BY pv.product_id
             ORDER BY count(DISTINCT o.id) DESC, pv.product_id LIMIT 10)
SELECT count(DISTINCT u.id) FILTER (WHERE t.rank = 1), count(DISTINCT u.id) FILTER (WHERE t.rank > 1)
FROM users u JOIN user_activities ua ON ua.user_id = u.id JOIN sized s ON s.user_id = u.id
JOIN inventory_items ii ON ii.user_id = u.id AND ii.status = 'OPEN_FOR_TRADE'
JOIN product_variants pv ON pv.id = ii.product_variant_id JOIN trending t ON t.product_id = pv.product_id
JOIN open_offers oo ON oo.product_variant_id = ii.product_variant_id AND oo.n >= 2
WHERE u.deleted_at = 0 AND u.email IS NOT NULL AND u.first_name IS NOT NULL AND u.username IS NOT NULL
  AND ua.last_active >= %(as_of)s - interval '90 days'"""


def test_layer2_finds_owners_of_top1_and_of_the_rest(coverage_db: psycopg.Connection) -> None:
    top1, rest = coverage_db.execute(LAYER2, {"as_of": AS_OF}).fetchone()
    assert top1 > 0 and rest > 0


SHOWCASE = f"""WITH {SIZED}, {DEMAND},
eligible AS (SELECT u.id, ap_value.value AS size FROM users u
             JOIN user_activities ua ON ua.user_id = u.id AND ua.last_active >= %(as_of)s - interval '90 days'
             JOIN user_preferences up ON up.user_id = u.id
             JOIN attribute_preferences ap ON ap.user_preference_id = up.id AND ap.preferred
             JOIN attributes a ON a.id = ap.attribute_id AND a.name = 'mens_size'
             JOIN attribute_values ap_value ON ap_value.id = ap.attribute_value_id
             WHERE u.deleted_at = 0 AND u.email IS NOT NULL AND u.first_name IS NOT NULL),
variants AS (SELECT id FROM product_variants WHERE product_id = %(product)s)
SELECT
 (SELECT count(*) FROM eligible e JOIN inventory_items ii ON ii.user_id = e.id AND ii.status = 'OPEN_FOR_TRADE'
  JOIN variants v ON v.id = ii.product_variant_id
  JOIN open_offers oo ON oo.product_variant_id = v.id AND oo.n >= 2),
 (SELECT count(*) FROM eligible e JOIN wishlist_items w ON w.user_id = e.id AND w.deleted_at = 0
  JOIN variants v ON v.id = w.product_variant_id),
 (SELECT count(*) FROM eligible e JOIN product_variants pv ON pv.product_id = %(product)s
    AND pv.index_cache ->> 'mens_size' = e.size
  WHERE NOT EXISTS (SELECT 1 FROM inventory_items ii JOIN variants v ON v.id = ii.product_variant_id
                    WHERE ii.user_id = e.id AND ii.status = 'OPEN_FOR_TRADE')
    AND NOT EXISTS (SELECT 1 FROM wishlist_items w JOIN variants v ON v.id = w.product_variant_id
                    WHERE w.user_id = e.id AND w.deleted_at = 0))"""


def test_showcase_product_has_haves_wants_and_everybody_else(coverage_db: psycopg.Connection) -> None:
    product = most_offered_product(coverage_db, as_of=AS_OF)
    # independently: the product whose variants appear in the most distinct offers of the last 7 days
    expected = coverage_db.execute(
        "SELECT p.id FROM products p ORDER BY (SELECT count(DISTINCT o.id) FROM offers o "
        "JOIN offer_items oi ON oi.offer_id = o.id JOIN product_variants pv ON pv.id = oi.product_variant_id "
        "WHERE pv.product_id = p.id AND o.created_at >= %(as_of)s - interval '7 days') DESC, p.id LIMIT 1",
        {"as_of": AS_OF},
    ).fetchone()[0]
    assert product == expected
    haves, wants, everybody_else = coverage_db.execute(SHOWCASE, {"as_of": AS_OF, "product": product}).fetchone()
    assert haves > 0 and wants > 0 and everybody_else > 0


# Waterfall: new users (12 h - 14 days old, live, named, sized) peeled level by level.
WATERFALL = f"""WITH {SIZED},
new_users AS (SELECT u.* FROM users u JOIN sized s ON s.user_id = u.id
              WHERE u.created_at BETWEEN %(as_of)s - interval '14 days' AND %(as_of)s - interval '12 hours'
                AND u.deleted_at = 0 AND u.first_name IS NOT NULL),
levels AS (
    SELECT n.id, CASE
        WHEN NOT EXISTS (SELECT 1 FROM inventory_items ii WHERE ii.user_id = n.id) THEN 1
        WHEN n.bio IS NULL OR btrim(n.bio) = '' THEN 2
        WHEN NOT EXISTS (SELECT 1 FROM offers o WHERE o.creator_user_id = n.id) THEN 3
        WHEN NOT EXISTS (SELECT 1 FROM wishlist_items w WHERE w.user_id = n.id AND w.deleted_at = 0) THEN 4
        ELSE 5 END AS level
    FROM new_users n)
SELECT level, count(*) FROM levels GROUP BY level"""


def test_waterfall_has_new_users_at_every_level(coverage_db: psycopg.Connection) -> None:
    levels = dict(coverage_db.execute(WATERFALL, {"as_of": AS_OF}).fetchall())
    assert all(levels.get(level, 0) > 0 for level in range(1, 6)), levels


def test_refuses_a_database_with_rows(coverage_db: psycopg.Connection) -> None:
    dbname = coverage_db.info.dbname
    with pytest.raises(SeedRefused) as info:
        seed_database(coverage_db, users=10, seed=1, as_of=AS_OF)
    text = str(info.value)
    assert f"dbname={dbname}" in text and "--replace" in text and "users" in text
    assert count(coverage_db, "SELECT count(*) FROM users") == 1000  # untouched


def test_device_tokens_look_like_fcm_tokens(coverage_db: psycopg.Connection) -> None:
    """URL-safe base64 with no padding and no line breaks (base64 wraps at 76 characters)."""
    bad = coverage_db.execute(
        "SELECT count(*) FROM devices WHERE token IS NOT NULL AND token !~ '^[A-Za-z0-9_:-]+$'"
    ).fetchone()[0]
    assert bad == 0
