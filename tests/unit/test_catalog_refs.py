"""Table and column references read from PostgreSQL's parse tree: certain ones kept, open ones left out."""

from __future__ import annotations

import pytest

from engine.catalog.refs import references

# (SQL, tables read, columns kept as "table.column" (qualified) or "column@table1+table2" (bare))
CASES = [
    ("select u.first_name from users as u", ["users"], ["users.first_name"]),
    # unaliased table: the table's own name qualifies its columns
    ("select users.id from users", ["users"], ["users.id"]),
    # a CTE is not a table, even when it shadows one; its columns are not checked
    ("with users as (select 1 as x) select users.x, y from users", [], []),
    ("with c as (select o.id from offers as o) select c.id, c.nope from c", ["offers"], ["offers.id"]),
    # a non-recursive CTE's own name in its body is the real table; a recursive one's is the CTE
    ("with offers as (select o.id from offers as o) select 1 from offers", ["offers"], ["offers.id"]),
    ("with recursive t as (select 1 as n union all select t.n + 1 from t) select t.n from t", [], []),
    # a subquery alias is not a table; its inner tables are
    (
        "select s.user_size from (select up.user_id, 1 as user_size from user_preferences as up) as s",
        ["user_preferences"],
        ["user_preferences.user_id"],
    ),
    # bare columns: kept only when every FROM item in scope is a table
    ("select id from users where deleted_at = 0", ["users"], ["id@users", "deleted_at@users"]),
    (
        "select id from users as u inner join devices as d on u.id = d.user_id",
        ["users", "devices"],
        ["users.id", "devices.user_id", "id@users+devices"],
    ),
    ("select id from users as u, generate_series(1, 2) as g", ["users"], []),
    ("with c as (select 1 as k) select k from users as u inner join c on true", ["users"], []),
    # ORDER BY, GROUP BY and DISTINCT ON may name an output column: bare names there are left alone
    ("select u.id as key from users as u group by key order by key", ["users"], ["users.id"]),
    ("select distinct on (k) u.id as k from users as u", ["users"], ["users.id"]),
    # a whole-row reference is not a column
    ("select row_to_json(u) from users as u", ["users"], []),
    # correlated subquery: the outer alias resolves outward; a bare name may come from either level
    (
        "select 1 from users as u where exists (select 1 from devices as d where d.user_id = u.id and token = 'x')",
        ["users", "devices"],
        ["devices.user_id", "users.id", "token@devices+users"],
    ),
    # LATERAL sees the items before it; its own columns are open
    ("select l.n from users as u, lateral (select u.id as n) as l", ["users"], ["users.id"]),
    # a set operation's branches are read; its ORDER BY names output columns
    (
        "select u.id from users as u union all select d.id from devices as d order by id",
        ["users", "devices"],
        ["users.id", "devices.id"],
    ),
    # renamed columns (alias with a column list) are not the table's names
    ("select x.a from users as x (a, b)", ["users"], []),
    # schema-qualified and three-part names; * and alias.*
    ("select s.id, public.users.id, u.* , * from public.users as s, users as u", ["users", "users"], ["users.id"]),
    # a qualifier with no FROM item is the database's error, not the catalog's
    ("select v.id from users as u", ["users"], []),
    # placeholders are parameters, never names
    (
        "select u.id from users as u where u.created_at >= %(as_of)s::timestamptz and u.bio like '100%%'",
        ["users"],
        ["users.id", "users.created_at", "users.bio"],
    ),
]


def _shown(sql: str) -> tuple[list[str], list[str]]:
    found = references(sql)
    columns = [
        f"{c.tables[0].name}.{c.column}" if c.qualified else f"{c.column}@{'+'.join(t.name for t in c.tables)}"
        for c in found.columns
    ]
    return [t.name for t in found.tables], columns


@pytest.mark.parametrize("sql, tables, columns", CASES, ids=[c[0][:60] for c in CASES])
def test_references(sql: str, tables: list[str], columns: list[str]) -> None:
    assert _shown(sql) == (tables, columns)


def test_offsets_are_in_the_rendered_text_and_point_at_the_name() -> None:
    sql = "select u.first_name\nfrom users as u\nwhere u.created_at >= %(as_of)s::timestamptz and u.frist_name = 'x'"
    found = references(sql)
    assert [sql[t.offset : t.offset + len(t.name)] for t in found.tables] == ["users"]
    assert [sql[c.offset : c.offset + len(c.column)] for c in found.columns] == [
        "first_name",
        "created_at",
        "frist_name",
    ]
    assert found.tables[0].schema is None
