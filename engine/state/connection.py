"""The one way to reach the state database: a pool per process (per DSN), borrowed one call at a time.

The pool is made on first use, after ``connect_state`` has found the database reachable (retries, exit 3)
and migrated (``engine migrate``, exit 2); then connections are lent in autocommit, each repository call
opening its own transaction where it needs one. A connection that must outlive its call (the run
recorder's advisory lock) is opened with ``connect_state`` instead: a pooled session would keep the lock.

A process talks to one state database; the test suite talks to hundreds, one after another, so only the
last few pools stay open.
"""

from __future__ import annotations

import atexit
import threading
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from engine.config import Settings
from engine.errors import DatabaseUnavailable
from engine.secrets import describe_server
from engine.state.migrate import connect_state

MAX_SIZE = 16  # the web server's threads and the scheduler's workers, each holding one at a time
WAIT_S = 5.0  # for a connection (a free one, or a new one: connect_timeout) before it counts as unavailable
IDLE_S = 60.0  # an idle connection beyond this is closed
OPEN_POOLS = 4  # pools kept per process (one in production)
_OPTIONS = "-c statement_timeout=300000 -c timezone=UTC"  # as engine.db.connect opens a state connection

_pools: dict[str, ConnectionPool] = {}
_lock = threading.Lock()


def _pool(settings: Settings, retries: int | None) -> ConnectionPool:
    dsn = settings.require_state_dsn()
    with _lock:
        pool = _pools.get(dsn)
        if pool is None:
            connect_state(settings, retries=retries).close()
            if not _pools:
                atexit.register(close_pools)
            pool = ConnectionPool(
                dsn,
                min_size=0,
                max_size=MAX_SIZE,
                timeout=WAIT_S,
                max_idle=IDLE_S,
                num_workers=1,
                check=ConnectionPool.check_connection,
                name="engine-state",
                open=True,
                kwargs={
                    "autocommit": True,
                    "options": _OPTIONS,
                    "connect_timeout": 5,
                    "application_name": "audience-engine",
                },
            )
            _pools[dsn] = pool
            for stale in list(_pools)[:-OPEN_POOLS]:
                _pools.pop(stale).close()
    return pool


@contextmanager
def state_connection(settings: Settings, *, retries: int | None = None) -> Iterator[psycopg.Connection]:
    """Borrow an autocommit connection to the state database for one unit of work.

    ``retries`` applies to the first connection of the process (default ``settings.connect_retries``;
    the operator page passes 0 to answer at once).
    """
    pool = _pool(settings, retries)
    try:
        with pool.connection() as conn:
            yield conn
    except PoolTimeout:
        server = describe_server(settings.require_state_dsn())
        raise DatabaseUnavailable(
            f"no connection to the state database at {server} within {WAIT_S:.0f}s",
            hint="check that the server is running and accepts connections (ENGINE_STATE_DSN)",
        ) from None


def close_pools() -> None:
    """Close every pool of this process (at exit)."""
    with _lock:
        while _pools:
            _pools.popitem()[1].close()
