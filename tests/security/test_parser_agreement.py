"""Fuzz: the engine's verdict on generated SQL agrees with what the real parsers then do with it.

The texts are built from the pieces where lexers disagree (dollar quotes and names with ``$`` in
them, ``E''`` strings continued on the next line, nested comments, unicode escapes, doubled
quotes, ``;`` inside and outside text). The oracles are not the engine's own code:

- PostgreSQL: the running server, sent each text through the simple query protocol (which runs
  every statement it finds, like a pasted psql script) inside a read-only transaction, counting
  the statements it ran.
- DuckDB: a fresh connection executing the fragment as the engine pastes it, counting the catalog
  objects before and after.

A text the engine accepts must run as exactly one statement in both wrappers the engine uses; a
text the server runs as two or more statements must be refused; and where the server parses a
text, PostgreSQL's statement count must equal the one the engine's parser (pglast) reads.
"""

from __future__ import annotations

import random

import duckdb
import pytest
from pglast import parser
from psycopg import pq

from engine.pgquery import ShapeError, check_query
from engine.transform.sandbox import SandboxError, check_fragment

# names only ever stand where a name is an alias, so most texts the server parses also run
PIECES = [
    "select 1 as a",
    "select 2",
    ";",
    " ",
    "\n",
    "1 as a$$b$",
    "2 as x$b$",
    "$$",
    "$q$",
    "$q$ ; $q$",
    "E'a'",
    "E'",
    "e'\\''",
    "'\\'",
    "'",
    "''",
    "'it''s'",
    "--",
    "-- ;",
    "/*",
    "*/",
    "/* /* ; */ */",
    "U&'\\0041'",
    '4 as U&"a"',
    '3 as "x""y"',
    "(",
    ")",
    ",",
    " as c",
    "1",
    "true",
    "::text",
    "'; select 3 --'",
]
# and whole statements whose items hide or show a ';'
ITEMS = [
    "1 as a$$b$",
    "2 as x$b$",
    "'a;b'",
    "$$;$$",
    "$q$ ; $$ $q$",
    "E'\\';'",
    "e'a'\n'\\' ; '",
    "'\\'",
    "U&'\\0041;'",
    "'it''s;'",
    "1 /* ; /* ; */ ; */",
    '3 as "x;y"',
]
SEPARATORS = [";", " ; ", ";\n", " -- ;\n", " /* ; */ ", "\n"]
CASES = 400


def _texts(seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(CASES // 2):
        body = "".join(rng.choice(PIECES) + rng.choice(["", " ", "\n"]) for _ in range(rng.randint(1, 7)))
        out.append(rng.choice(["select ", "select 1 as a, ", ""]) + body)
    for _ in range(CASES // 2):
        statements = ["select " + ", ".join(rng.choices(ITEMS, k=rng.randint(1, 3))) for _ in range(rng.randint(1, 3))]
        out.append("".join(s + rng.choice(SEPARATORS) for s in statements[:-1]) + statements[-1])
    return out


SYNTAX_ERROR = "42601"


def _server_statements(conn: pq.PGconn, text: str) -> tuple[int, str | None]:
    """(statements the server ran for ``text`` through the simple protocol, SQLSTATE of its error if any).

    The server parses the whole text before running any of it: a syntax error runs nothing.
    """
    conn.send_query(text.encode())
    ran, error = 0, None
    while (result := conn.get_result()) is not None:
        if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
            ran += 1
        elif result.status != pq.ExecStatus.EMPTY_QUERY:  # only blanks and comments
            error = (result.error_field(pq.DiagnosticField.SQLSTATE) or b"?").decode()
    return ran, error


def _pglast_statements(text: str) -> int | None:
    try:
        return len(parser.split(text))
    except parser.ParseError:
        return None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_postgresql_and_the_engine_agree(app_db: str, seed: int) -> None:
    conn = pq.PGconn.connect(
        f"{app_db} options='-c default_transaction_read_only=on -c statement_timeout=2000'".encode()
    )
    assert conn.status == pq.ConnStatus.OK, conn.error_message
    accepted = refused_by_both = semantic = 0
    try:
        for text in _texts(seed):
            try:
                check_query(text)
                engine_ok = True
            except ShapeError:
                engine_ok = False
            ran, error = _server_statements(conn, text)
            parsed = _pglast_statements(text)
            if error is None:
                assert parsed == ran, text
            elif error == SYNTAX_ERROR:
                assert parsed is None, text
            else:  # parsed, then statement ran+1 failed (say an operator `*/` on text): the rest never ran
                semantic += 1
                assert parsed is not None and parsed >= ran + 1, text
            if engine_ok:
                accepted += 1
                assert ran + (error is not None) == 1 and error != SYNTAX_ERROR, text
                wrapped = f"SELECT * FROM (\n{text}\n) AS described LIMIT 0"
                assert _server_statements(conn, wrapped) == (1, None) if error is None else True, text
            elif ran > 1:
                refused_by_both += 1
    finally:
        conn.finish()
    # the generator reaches both sides of the line
    assert accepted >= 10 and refused_by_both >= 10 and semantic < CASES // 4, (accepted, refused_by_both, semantic)


def _objects(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        "select (select count(*) from duckdb_views() where not internal) + (select count(*) from duckdb_tables())"
    ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("seed", [4, 5])
def test_duckdb_and_the_sandbox_agree(seed: int) -> None:
    accepted = 0
    for text in _texts(seed):
        for expression in (True, False):
            try:
                pasted = check_fragment(text, "fuzz", expression=expression)
            except SandboxError:
                continue
            accepted += 1
            con = duckdb.connect(":memory:")
            con.execute("create table audience as select 1 as a, true as x, 'c' as c")
            before = _objects(con)
            sql = f"SELECT count(*) FROM audience WHERE ({pasted})" if expression else pasted
            try:
                con.execute(sql).fetchall()  # DuckDB runs every statement of a text given to execute()
            except duckdb.Error:
                pass  # a type error is fine: only a second statement is not
            assert len(con.extract_statements(sql)) == 1, text
            assert _objects(con) == before, text
            con.close()
    assert accepted >= 10, accepted
