"""Masking DSN passwords: the server description and libpq's own messages, not only the DSN text.

Each hostile DSN below holds the marker ``S3cr3t`` somewhere in what its writer meant as the
password; libpq splits such a DSN at the first unencoded ``@`` (or ``/``), so the marker or the
password's tail lands in the host, port or database name it reports. Nothing shown may hold it.
"""

from __future__ import annotations

import psycopg
import pytest

from engine.secrets import describe_server, mask_dsn, mask_text

MARKER = "S3cr3t"
HOSTILE = [
    # URL form: an unencoded '@', '/' or ':' in the password
    "postgresql://u:te-S3cr3t@x@127.0.0.1:5432/db",
    "postgresql://u:p@te-S3cr3t@127.0.0.1:5432/db",
    "postgresql://u:te-S3cr3t@@127.0.0.1/db",
    "postgresql://u:pw/te-S3cr3t@127.0.0.1/db",
    "postgresql://u:te-S3cr3t/x@127.0.0.1/db",
    "postgresql://u:p@te-S3cr3t@h1:5432,h2:5433/db",
    "postgresql://u:te-S3cr3t:x@127.0.0.1:1/db",
    "postgresql://app@x:te-S3cr3t@127.0.0.1/db",
    "postgresql://u@127.0.0.1/db?password=te-S3cr3t@x&sslmode=disable",
    # key=value form: a password with an '@' or a space, or a whole URL-ish host
    "host=127.0.0.1 user=u password=te-S3cr3t@x dbname=db",
    "host=127.0.0.1 password='te S3cr3t@x' dbname=db",
    "host=127.0.0.1 password=te S3cr3t dbname=db",
    "host=u:te-S3cr3t@127.0.0.1 dbname=db",
    "host=127.0.0.1 port=5432 password = 'it\\'s te-S3cr3t' dbname=db",
]


@pytest.mark.parametrize("dsn", HOSTILE)
def test_describe_server_never_shows_the_password(dsn: str) -> None:
    described = describe_server(dsn)
    assert MARKER not in described, described
    assert described.startswith("host=") or described == "<unparsable DSN>"


@pytest.mark.parametrize("dsn", HOSTILE)
def test_mask_dsn_and_mask_text_hide_every_piece(dsn: str) -> None:
    assert MARKER not in mask_dsn(dsn)
    assert MARKER not in mask_text(f"cannot connect with {dsn}: refused")
    assert MARKER not in mask_text(f"cannot connect with {dsn}: refused", dsn)


@pytest.mark.parametrize("dsn", HOSTILE)
def test_libpq_messages_about_a_hostile_dsn_are_masked(dsn: str) -> None:
    # what libpq itself says about the DSN (a host it cannot resolve, an option it cannot parse)
    try:
        psycopg.connect(dsn, connect_timeout=2).close()
    except psycopg.Error as err:
        message = str(err)
    else:  # pragma: no cover - no server accepts these credentials
        pytest.fail("connected")
    assert MARKER not in mask_text(message, dsn), message


@pytest.mark.parametrize(
    "text",
    [
        "failed to resolve host 'te-S3cr3t@127.0.0.1': [Errno -2] Name or service not known",
        'connection to server at "x-S3cr3t@db.example" (10.0.0.1), port 5432 failed',
        "host=te-S3cr3t@127.0.0.1 port=5432 user=u dbname=db",
    ],
)
def test_a_host_holding_an_at_sign_is_masked_without_the_dsn(text: str) -> None:
    # log lines carry libpq's text without the DSN beside it: a host never holds an '@'
    masked = mask_text(text)
    assert MARKER not in masked and ("127.0.0.1" in masked or "db.example" in masked), masked


def test_ordinary_descriptions_are_unchanged() -> None:
    assert describe_server("postgresql://bob:hunter2@db:5433/app") == "host=db port=5433 user=bob dbname=app"
    assert describe_server("host=db user=bob password=hunter2 dbname=app") == "host=db port=5432 user=bob dbname=app"
    assert mask_text("role bob on db app") == "role bob on db app"
