"""Queries of one wave run in parallel on pool connections that share the first one's snapshot."""

from __future__ import annotations

import threading

import psycopg
import pytest

from engine.db import SourcePool
from engine.sources.parallel import snapshot_sharing, waves
from engine.spec.model import Bind, QuerySpec


def test_waves_group_queries_by_what_they_bind() -> None:
    # layer 3's shape: profiles and variant_stats both bind from activity only -> one wave of two
    activity = QuerySpec(name="activity", sql="a.sql")
    profiles = QuerySpec(name="profiles", sql="p.sql", binds=(Bind(param="user_ids", query="activity", column="u"),))
    stats = QuerySpec(name="stats", sql="s.sql", binds=(Bind(param="variant_ids", query="activity", column="v"),))
    tail = QuerySpec(name="tail", sql="t.sql", binds=(Bind(param="ids", query="stats", column="v"),))
    assert [[q.name for q in w] for w in waves([activity, profiles, stats, tail])] == [
        ["activity"],
        ["profiles", "stats"],
        ["tail"],
    ]
    assert waves([]) == []


@pytest.mark.parametrize("size", [1, 3])
def test_parallel_queries_see_the_first_connections_snapshot(app_db: str, size: int) -> None:
    with psycopg.connect(app_db, autocommit=True) as setup:
        setup.execute("CREATE TABLE snap_probe (n int)")
        setup.execute("INSERT INTO snap_probe VALUES (1)")
    threads: set[int] = set()
    # the wide wave's three queries must all be running at once (not just submitted): else a worker
    # thread that finished early may take the third one too, and the thread count says nothing
    together = threading.Barrier(3, timeout=10)

    def count(conn: psycopg.Connection) -> int:
        threads.add(threading.get_ident())
        row = conn.execute("SELECT count(*) FROM snap_probe").fetchone()
        return int(row[0]) if row else -1

    def count_together(conn: psycopg.Connection) -> int:
        if size > 1:
            together.wait()
        return count(conn)

    with SourcePool(app_db, size=size) as pool, pool.connection() as conn, snapshot_sharing(pool, conn, 3) as shared:
        assert shared.run_all([count]) == [1]  # the first wave: the snapshot is taken by now either way
        # a row committed after the snapshot was taken: no query of the audience may see it
        with psycopg.connect(app_db, autocommit=True) as other:
            other.execute("INSERT INTO snap_probe VALUES (2)")
        assert shared.run_all([count_together, count_together, count_together]) == [1, 1, 1]
    # a pool of one runs them one after the other on the same connection; a larger pool in parallel
    assert len(threads) == (1 if size == 1 else 3)  # main thread + 2 workers
