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
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from engine.appdb.schema import create_schema
from engine.state.migrate import migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEST_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Hermetic: what a user exported for everyday use (README: ENGINE_SOURCE_DSN, ENGINE_STATE_DSN, ...) must not
# steer the tests, which build their own settings and environments. Kept: the test harness's own variables,
# ENGINE_TEST_DSN (the test server), ENGINE_TEST_PROJECT (the project tests/project checks) and the kill test's
# ENGINE_TEST_KILL_* knobs.
HARNESS_VARIABLES = {
    "ENGINE_TEST_DSN",
    "ENGINE_TEST_PROJECT",
    "ENGINE_TEST_KILL_ROUNDS",
    "ENGINE_TEST_KILL_PUSHES",
    "ENGINE_TEST_KILL_SEED",
}
for _name in [n for n in os.environ if n.startswith("ENGINE_") and n not in HARNESS_VARIABLES]:
    del os.environ[_name]


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    """DSN of a maintenance database on the test server (CREATE/DROP DATABASE run here)."""
    dsn = os.environ.get("ENGINE_TEST_DSN", DEFAULT_TEST_DSN)
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as err:
        pytest.skip(
            f"no PostgreSQL for tests at ENGINE_TEST_DSN={dsn.split('@')[-1]}: {err}. Start one or set ENGINE_TEST_DSN."
        )
    return dsn


@pytest.fixture(scope="session")
def create_database(pg_admin_dsn: str) -> Iterator[Callable[..., str]]:
    """Factory: a new empty database (optionally with app schema and/or engine state); dropped at the end.

    The schema is built once per kind, in a template database, and each test's database is a copy of it
    (``CREATE DATABASE ... TEMPLATE``): about 4x faster than building the schema every time.
    """
    created: list[str] = []
    templates: dict[tuple[bool, bool], str] = {}

    def new_database(template: str) -> str:
        name = f"ae_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        created.append(name)
        return name

    def template_for(app_schema: bool, state: bool) -> str:
        if (app_schema, state) not in templates:
            name = new_database("template0")
            with psycopg.connect(make_conninfo(pg_admin_dsn, dbname=name)) as conn:
                if app_schema:
                    create_schema(conn)
                if state:
                    migrate(conn)
            templates[app_schema, state] = name
        return templates[app_schema, state]

    def factory(*, app_schema: bool = True, state: bool = True) -> str:
        return make_conninfo(pg_admin_dsn, dbname=new_database(template_for(app_schema, state)))

    yield factory
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def source_role(create_database: Callable[..., str]) -> Iterator[Callable[..., str]]:
    """Factory: the DSN of a LOGIN role on database ``dsn`` with SELECT only on its app tables (the role production
    should use as the source), plus ``grants`` (``{role}`` is its name); the roles are dropped at the end.

    One role per database and ``label`` (roles are server-wide and several test databases exist at once); asking
    again returns the same role. ``CREATE`` on ``public`` is revoked from PUBLIC, as PostgreSQL 15 does by default.
    """
    made: dict[str, str] = {}  # role -> admin DSN of its database

    def factory(dsn: str, label: str = "reader", *, grants: tuple[str, ...] = ()) -> str:
        role = f"{conninfo_to_dict(dsn)['dbname']}_{label}"
        if role not in made:
            ident = sql.Identifier(role)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
                made[role] = dsn
                conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
                conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
                conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident))
                conn.execute(
                    sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}").format(ident)
                )
                for grant in grants:
                    conn.execute(sql.SQL(grant).format(role=ident))
        return make_conninfo(dsn, user=role)

    yield factory
    for role, dsn in made.items():
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


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
