"""Benchmark: built-in cadence for a 100,000-user audience in one query.

Creates a scratch database on the server named by ENGINE_BENCH_DSN (default: the local
postgres at 127.0.0.1:5432), migrates the engine state schema, inserts ~300,000 push
history rows for 100,000 users (spread over layers 1-5 and the last 14 days), then times
``filter_audience`` for the whole audience per layer. Prints the timings; asserts nothing.
The scratch database is dropped at the end.

    .venv/bin/python benchmarks/cadence_filter.py [--users 100000] [--per-user 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from engine.cadence import filter_audience
from engine.config import Settings
from engine.state.migrate import migrate

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

# user i -> a fixed UUID, built the same way in SQL and in Python
_SQL_USER = "(lpad(to_hex(i), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid"


def user_id(i: int) -> str:
    return str(uuid.UUID(f"{i:08x}-0000-4000-8000-{i:012x}"))


def fill(conn: psycopg.Connection, users: int, per_user: int) -> int:
    """Deterministic history: user i gets ``per_user`` pushes, layers and ages from a seeded random()."""
    conn.execute("SELECT setseed(0.42)")
    conn.execute(
        f"""INSERT INTO engine.user_notifications (user_id, layer_id, sent_at, push_title, send_key)
            SELECT {_SQL_USER}, (ARRAY[1, 2, 2, 3, 3, 3, 4, 5])[1 + floor(random() * 8)::int],
                   %(as_of)s - make_interval(mins => floor(random() * 14 * 24 * 60)::int),
                   'bench', 'bench:' || i || ':' || j
            FROM generate_series(1, %(users)s) AS i, generate_series(1, %(per_user)s) AS j""",
        {"as_of": AS_OF, "users": users, "per_user": per_user},
    )
    conn.execute("ANALYZE engine.user_notifications")
    return conn.execute("SELECT count(*) FROM engine.user_notifications").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--per-user", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    admin_dsn = os.environ.get("ENGINE_BENCH_DSN", DEFAULT_DSN)
    name = f"ae_bench_cadence_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    dsn = make_conninfo(admin_dsn, dbname=name)
    try:
        with psycopg.connect(dsn) as conn:
            migrate(conn)
            started = time.perf_counter()
            rows = fill(conn, args.users, args.per_user)
            conn.commit()
        print(f"history: {rows:,} rows for {args.users:,} users in {time.perf_counter() - started:.1f}s")
        audience = [user_id(i) for i in range(1, args.users + 1)]
        with tempfile.TemporaryDirectory() as project:  # no cadence.yaml: the original's rules
            settings = Settings(project_dir=Path(project), state_dsn=dsn)
            for layer in (3, 2, 5):
                timings = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    decision = filter_audience(settings, audience, layer, AS_OF)
                    timings.append(time.perf_counter() - started)
                per_rule = ", ".join(f"{rule} {len(ids):,}" for rule, ids in decision.excluded.items())
                print(
                    f"layer {layer}: {len(audience):,} users -> {len(decision.eligible):,} eligible ({per_rule}); "
                    f"best {min(timings):.3f}s, median {sorted(timings)[len(timings) // 2]:.3f}s "
                    f"of {args.repeat} (connect + one query + Python)"
                )
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
