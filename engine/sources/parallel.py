"""Run an audience's queries in dependency waves, the queries of one wave in parallel, all on one snapshot.

A query that binds nothing from another can run while its siblings run: Layer 3's ``profiles`` and
``variant_stats`` both wait only for ``activity``, the showcase's ``product_stats`` and
``audiences`` wait for nothing. Each extra query of a wave borrows another pool connection and
imports the first connection's snapshot (``pg_export_snapshot()`` / ``SET TRANSACTION SNAPSHOT``),
so every query still sees the same moment, as if run one after the other in one transaction.
How many run at once is ``ENGINE_PARALLEL_QUERIES`` (default 4, within the pool; 1 runs them one
after the other).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import psycopg
from psycopg import sql

from engine.db import SourcePool
from engine.spec.model import QuerySpec

T = TypeVar("T")


def waves(queries: Sequence[QuerySpec]) -> list[list[QuerySpec]]:
    """Queries grouped by depth (0 binds nothing; n binds from depth n-1 at most), each wave in spec order."""
    depth: dict[str, int] = {}
    for query in queries:  # a query binds only from earlier ones (the spec validator checks it)
        depth[query.name] = 1 + max((depth.get(b.query, -1) for b in query.binds), default=-1)
    out: list[list[QuerySpec]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for query in queries:
        out[depth[query.name]].append(query)
    return out


@contextmanager
def snapshot_sharing(pool: SourcePool, conn: psycopg.Connection, width: int) -> Iterator["SharedSnapshot"]:
    """Open ``conn``'s repeatable-read transaction; export its snapshot when more than one query runs at once."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    snapshot = None
    parallel = min(width, pool.max_size) > 1
    if parallel:
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        snapshot = str(row[0]) if row else None
    executor = ThreadPoolExecutor(max_workers=min(width, pool.max_size) - 1) if parallel else None
    try:
        yield SharedSnapshot(pool, conn, snapshot, executor)
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        conn.rollback()


class SharedSnapshot:
    """Runs callables on connections that all see ``conn``'s snapshot."""

    def __init__(
        self, pool: SourcePool, conn: psycopg.Connection, snapshot: str | None, executor: ThreadPoolExecutor | None
    ) -> None:
        self._pool, self._conn, self._snapshot, self._executor = pool, conn, snapshot, executor

    def _on_borrowed(self, work: Callable[[psycopg.Connection], T]) -> T:
        with self._pool.connection() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(self._snapshot)))
            try:
                return work(conn)
            finally:
                conn.rollback()

    def run_all(self, work: Sequence[Callable[[psycopg.Connection], T]]) -> list[T]:
        """Results in order; the first runs on the main connection, the rest (if allowed) on borrowed ones."""
        if self._executor is None or self._snapshot is None or len(work) < 2:
            return [w(self._conn) for w in work]
        # each worker runs in a copy of this context: log records keep the run's context fields
        futures: list[Future[T]] = [
            self._executor.submit(contextvars.copy_context().run, self._on_borrowed, w) for w in work[1:]
        ]
        try:
            first = work[0](self._conn)
        finally:
            done = [f.exception() for f in futures]  # wait for all: no query outlives the snapshot
        for err in done:
            if err is not None:
                raise err
        return [first, *(f.result() for f in futures)]
