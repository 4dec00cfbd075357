"""Database layer, migrations and app schema against a real PostgreSQL."""

from __future__ import annotations

import threading

import psycopg
import pytest

from engine.appdb.schema import APP_TABLES, declared_columns
from engine.db import SourcePool, connect, translate_query_error
from engine.errors import DatabaseUnavailable
from engine.state.migrate import available_migrations, current_version, migrate


def test_source_pool_is_read_only(app_db: str) -> None:
    with SourcePool(app_db, size=2) as pool, pool.connection() as conn:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction) as info:
            conn.execute("INSERT INTO products (name) VALUES ('x')")
        err = translate_query_error(info.value, what="audience query")
        assert "25006" in err.message
        assert "read-only" in (err.hint or "")


def test_statement_timeout_applies(app_db: str) -> None:
    with SourcePool(app_db, size=1, statement_timeout_s=0.2) as pool, pool.connection() as conn:
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(2)")


def test_unreachable_server_names_host_and_hides_password() -> None:
    dsn = "postgresql://alice:s3cret-pw@127.0.0.1:1/tradeblock"
    with pytest.raises(DatabaseUnavailable) as info:
        connect(dsn, retries=1)
    text = str(info.value)
    assert "host=127.0.0.1 port=1" in text
    assert "s3cret-pw" not in text
    assert "2 attempt(s)" in text  # one try plus one retry
    assert info.value.exit_code == 3


def test_migrations_idempotent(empty_db: str) -> None:
    with psycopg.connect(empty_db) as conn:
        first = migrate(conn)
        second = migrate(conn)
        assert [m.version for m in first] == [m.version for m in available_migrations()]
        assert second == []
        assert current_version(conn) == available_migrations()[-1].version
        tables = {
            r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'engine'")
        }
        assert {"runs", "run_outputs", "user_notifications", "notification_layers"} <= tables


def test_migrations_concurrent_safe(empty_db: str) -> None:
    """Four processes' worth of connections migrating at once apply each file exactly once."""
    errors: list[BaseException] = []
    applied: list[int] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            with psycopg.connect(empty_db) as conn:
                barrier.wait()
                applied.extend(m.version for m in migrate(conn))
        except BaseException as err:  # collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(applied) == [m.version for m in available_migrations()]
    with psycopg.connect(empty_db) as conn:
        count = conn.execute("SELECT count(*) FROM engine.schema_migrations").fetchone()[0]
    assert count == len(available_migrations())


# The reference (section 1.2/1.3) names these tables and columns; the audiences' SQL relies on them.
REFERENCE_COLUMNS = {
    "users": ["id", "email", "bio", "first_name", "username", "avatar_id", "created_at", "deleted_at"],
    "user_activities": ["user_id", "last_active"],
    "user_preferences": ["id", "user_id", "deleted_at"],
    "attributes": ["id", "name", "deleted_at"],
    "attribute_values": ["id", "attribute_id", "value", "key", "deleted_at"],
    "attribute_preferences": [
        "id",
        "user_preference_id",
        "attribute_id",
        "attribute_value_id",
        "preferred",
        "deleted_at",
    ],
    "products": ["id", "name", "deleted_at"],
    "product_variants": ["id", "product_id", "index_cache", "deleted_at"],
    "inventory_items": ["id", "user_id", "product_variant_id", "status", "created_at", "deleted_at"],
    "wishlist_items": ["id", "user_id", "product_variant_id", "created_at", "deleted_at"],
    "desired_items": ["id", "user_id", "product_variant_id", "offers_count", "created_at", "deleted_at"],
    "offers": ["id", "creator_user_id", "receiver_user_id", "offer_status", "offer_type", "created_at", "deleted_at"],
    "offer_items": ["id", "offer_id", "product_variant_id", "offer_item_owner", "created_at", "deleted_at"],
    "trades": ["id", "offer_id", "validation_passed_date", "state"],
    "devices": ["id", "user_id", "fingerprint", "token", "updated_at"],
}


def test_app_schema_matches_reference(app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ).fetchall()
    live: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        live.setdefault(table, {})[column] = dtype
    assert set(APP_TABLES) <= set(live)
    for table, columns in REFERENCE_COLUMNS.items():
        missing = [c for c in columns if c not in live[table]]
        assert not missing, f"{table} lacks {missing}"
        if "deleted_at" in live[table]:
            assert live[table]["deleted_at"] == "integer", table
        assert live[table]["id"] == "uuid", table
    # the DDL parser used by `validate` sees the same columns the database has
    for table in APP_TABLES:
        assert declared_columns()[table] == list(live[table]), table


def test_production_indexes_present(app_db: str) -> None:
    with psycopg.connect(app_db) as conn:
        defs = [r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")]
    text = "\n".join(defs)
    for expected in [
        "users USING btree (deleted_at)",
        "inventory_items USING btree (user_id, product_variant_id)",
        "offer_items USING btree (offer_id)",
        "trades USING btree (validation_passed_date)",
        "devices USING btree (fingerprint, user_id)",
        "offers USING btree (offer_status, offer_type)",
    ]:
        assert expected in text
    # production has no index on the created_at columns the windows filter on (reference 1.3)
    assert "inventory_items USING btree (created_at)" not in text
