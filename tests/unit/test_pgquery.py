"""Audience SQL judged on PostgreSQL's own parse tree: what is refused, with which rule, and where.

Each expected offset was counted by hand on the SQL text beside it (0-based, at the ``%(`` of a
placeholder or the first character of the offending token).
"""

from __future__ import annotations

import pytest

from engine.pgquery import ShapeError, check_query, check_statement
from engine.render.literals import inline

ACCEPTED = [
    "select 1",
    "select u.id from users as u where u.first_name = %(name)s::text",
    "with recent as (select 1 as x) select x from recent",
    "values (1), (2)",
    "table users",
    # the identifier `a$$b$` is a name to PostgreSQL: no dollar quote opens (the lexer of old read one)
    "select true as a$$b$ from users",
    "select 'it''s', $q$ a ) ; $q$, e'\\'' as x -- ; )\n from users",
    "select 50 %% 7",
    "select current_setting('engine.p_x')",  # reading a setting is not changing it
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_plain_selects_pass(sql: str) -> None:
    check_query(sql)


@pytest.mark.parametrize(
    ("sql", "rule", "message", "offset"),
    [
        # the red team's segment-style text: two ';' outside any literal as PostgreSQL reads it
        ("select true as a$$b$ ; select 1", "sql/one-statement", "PostgreSQL's parser reads 2 statements", 21),
        ("select 1;", "sql/one-statement", "a statement ended by ';'", 8),
        ("", "sql/one-statement", "the query is empty", 0),
        ("delete from t", "sql/one-statement", "the query is a DELETE statement", 0),
        ("select 1 into t", "sql/one-statement", "SELECT ... INTO creates a table", 14),
        (
            "with x as (delete from t returning *) select * from x",
            "sql/one-statement",
            "WITH x runs DELETE: a data-modifying WITH writes",
            5,
        ),
        ("select 1 from t for update", "sql/refused-function", "FOR UPDATE / FOR SHARE locks rows", 0),
        ("select (1 from t", "sql/syntax", "PostgreSQL cannot parse the query", 10),
        ("select 1 /* never", "sql/syntax", "unterminated /* comment", 9),
        ("select '%(p)s'", "sql/value-in-text", "bound parameter 'p' is inside a string literal", 8),
        ("select $$ %(p)s $$", "sql/value-in-text", "bound parameter 'p' is inside a dollar-quoted string", 10),
        ('select "%(p)s"', "sql/value-in-text", "bound parameter 'p' is inside a quoted identifier", 8),
        ("select 1 -- %(p)s\n", "sql/value-in-text", "bound parameter 'p' is inside a comment", 12),
        ("select a%(p)s", "sql/value-in-text", "bound parameter 'p' is inside the name 'a$1'", 8),
        # an E'' string continued on the next line keeps its backslash escapes: `\'` does not close it
        ("select E'a'\n'\\' %(p)s ' -- '", "sql/value-in-text", "bound parameter 'p' is inside a string literal", 16),
        ("select $1", "sql/value-in-text", "positional parameter $1 is not bound by the engine", 7),
        (
            "select pg_catalog.pg_read_file('/etc/passwd')",
            "sql/refused-function",
            "calls pg_read_file(), refused (file)",
            7,
        ),
        (
            "select x from t where pg_terminate_backend(42)",
            "sql/refused-function",
            "calls pg_terminate_backend(), refused (signal)",
            22,
        ),
        (
            "select set_config('statement_timeout', '0', true)",
            "sql/refused-function",
            "calls set_config(), refused (configuration)",
            7,
        ),
        (
            "select * from dblink_exec('host=x', 'create table pwn ()')",
            "sql/refused-function",
            "calls dblink_exec(), refused (dblink / foreign)",
            14,
        ),
        ("select pg_advisory_xact_lock(1)", "sql/refused-function", "refused (lock)", 7),
        ("select nextval('s')", "sql/refused-function", "refused (sequence)", 7),
        ("select lo_import('/etc/passwd')", "sql/refused-function", "refused (large object)", 7),
        (
            "select query_to_xml('select set_config(''a'', ''b'', false)', true, true, '')",
            "sql/refused-function",
            "refused (SQL in text)",
            7,
        ),
        ("select (select pg_sleep(1))", "sql/refused-function", "refused (sleep)", 15),
        # positions count characters, not bytes: 'é' is two bytes in UTF-8
        ("select 'éé', pg_notify('c', 'x')", "sql/refused-function", "refused (notify)", 13),
    ],
)
def test_refused_with_rule_and_place(sql: str, rule: str, message: str, offset: int) -> None:
    with pytest.raises(ShapeError) as caught:
        check_query(sql)
    assert (caught.value.rule, caught.value.offset) == (rule, offset), caught.value.message
    assert message in caught.value.message


def test_the_policy_sees_through_quoting_and_schemas() -> None:
    for sql in (
        "select \"pg_read_file\"('x')",
        "select PG_CATALOG.PG_READ_FILE('x')",
        "select * from pg_catalog.pg_ls_dir('.')",
    ):
        with pytest.raises(ShapeError, match="refused"):
            check_statement(sql)


def test_compile_writes_values_only_where_the_parser_reads_a_parameter() -> None:
    sql = "select u.id from users as u where u.first_name = %(name)s::text and 50 %% 7 = 1"
    hostile = "'; create table pwn (a int); --"
    compiled = inline(sql, {"name": hostile})
    assert compiled == (
        "select u.id from users as u where u.first_name = '''; create table pwn (a int); --'::text and 50 % 7 = 1"
    )
    check_statement(compiled)  # still one SELECT


def test_compile_refuses_a_value_the_lexer_of_old_put_in_code() -> None:
    # the red team's case 2: PostgreSQL reads the placeholder inside the continued E'' string
    with pytest.raises(ShapeError, match="inside a string literal"):
        inline("select 1 as x where 'a' = E'a'\n'\\' %(name)s ' -- '", {"name": "; create table pwn (a int); --"})


def test_compile_casts_a_value_once_where_the_sql_casts_it() -> None:
    from datetime import datetime, timezone  # noqa: PLC0415

    as_of = datetime(2026, 11, 23, 18, tzinfo=timezone.utc)
    compiled = inline(
        "select 1 as x where %(as_of)s::timestamptz > %(as_of)s and %(as_of)s :: date < now()", {"as_of": as_of}
    )
    assert compiled == (
        "select 1 as x where '2026-11-23 18:00:00+00:00'::timestamptz > "
        "'2026-11-23 18:00:00+00:00'::timestamptz and "
        "'2026-11-23 18:00:00+00:00'::timestamptz :: date < now()"
    )
