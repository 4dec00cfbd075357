"""Shared fixtures. Databases are real: each test gets its own fresh PostgreSQL database.

The server comes from ENGINE_TEST_DSN (default: the local server at 127.0.0.1:5432,
user postgres). Without a reachable server the database tests are skipped with a
message saying how to point them at one.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from engine.appdb.schema import create_schema
from engine.state.migrate import migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEST_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    """DSN of a maintenance database on the test server (CREATE/DROP DATABASE run here)."""
    dsn = os.environ.get("ENGINE_TEST_DSN", DEFAULT_TEST_DSN)
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as err:
        pytest.skip(f"no PostgreSQL for tests at ENGINE_TEST_DSN={dsn.split('@')[-1]}: {err}. "
                    "Start one or set ENGINE_TEST_DSN.")
    return dsn


@pytest.fixture(scope="session")
def create_database(pg_admin_dsn: str) -> Iterator[Callable[..., str]]:
    """Factory: a new empty database (optionally with app schema and/or engine state); dropped at the end."""
    created: list[str] = []

    def factory(*, app_schema: bool = True, state: bool = True) -> str:
        name = f"ae_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        created.append(name)
        dsn = make_conninfo(pg_admin_dsn, dbname=name)
        with psycopg.connect(dsn) as conn:
            if app_schema:
                create_schema(conn)
            if state:
                migrate(conn)
        return dsn

    yield factory
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app_db(create_database: Callable[..., str]) -> str:
    """A fresh database with the app schema and the engine state schema."""
    return create_database()


@pytest.fixture
def empty_db(create_database: Callable[..., str]) -> str:
    """A fresh, completely empty database."""
    return create_database(app_schema=False, state=False)


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT
