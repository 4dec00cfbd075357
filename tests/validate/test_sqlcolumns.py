"""Column names read from rendered SQL, as PostgreSQL would name them (worked out by hand per case)."""

from __future__ import annotations

import pytest

from engine.validate.sqlcolumns import infer_columns

CASES = [
    # plain references take the column name, aliases win, casts keep the inner name
    ("select u.id, u.name as first_name, x::text from users as u", ("id", "first_name", "x")),
    # unaliased expressions: function name, CASE, a cast of a literal takes the type name
    ("select count(*), case when a then 1 end, 'x'::text, 1 + 2 from t", ("count", "case", "text", "?column?")),
    # implicit alias (no AS), quoted identifiers keep their case
    ('select count(*) n, u.id "userId" from users as u', ("n", "userId")),
    # DISTINCT ON is not a column; ORDER BY and LIMIT are ignored
    ("select distinct on (a) a, b from t order by a, b limit 3", ("a", "b")),
    # a CTE's columns flow through * and alias.*
    ("with c as (select 1 as x, 2 as y) select * from c", ("x", "y")),
    ("with c as (select 1 as x) select c.*, 3 as z from c", ("x", "z")),
    # CTE with a declared column list
    ("with c(p, q) as (select 1, 2) select * from c", ("p", "q")),
    # UNION takes the names of its first branch
    ("select 1 as a union all select 2 as b", ("a",)),
    # subquery in FROM, alias.* through it, joined to a CTE
    (
        "with k as (select 1 as id, 'n' as name) select s.*, k.name from (select 1 as id, 2 as v) as s "
        "inner join k on s.id = k.id",
        ("id", "v", "name"),
    ),
    # scalar subqueries, window functions and FROM inside function calls do not confuse the list
    (
        "select (select max(x) from t) as top, row_number() over (partition by a order by b) as rn, "
        "extract(day from ts) as d from t",
        ("top", "rn", "d"),
    ),
    # bound parameters as psycopg writes them
    ("select %(product_id)s::uuid as product_id, a from t where b = any(%(ids)s::uuid[])", ("product_id", "a")),
    # comments and strings with keywords in them
    ("-- from here\nselect 'from, where' as s, /* select */ b from t", ("s", "b")),
]


@pytest.mark.parametrize("sql, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_columns(sql: str, expected: tuple[str, ...]) -> None:
    assert infer_columns(sql) == expected


@pytest.mark.parametrize(
    "sql",
    [
        "select * from users",  # a real table: only the database knows
        "select u.*, 1 as x from users as u",
        "with c as (select * from users) select * from c",
        "insert into t values (1)",  # not a query
    ],
)
def test_unknowable_columns(sql: str) -> None:
    assert infer_columns(sql) is None
