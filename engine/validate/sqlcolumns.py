"""The column names a rendered SELECT returns, read from sqlglot's parse tree of it.

Follows CTEs (and their declared column lists), subqueries in FROM, ``*`` and ``alias.*``
over them, set operations (names come from the first branch) and PostgreSQL's naming of
unaliased expressions (``t.col`` -> ``col``, ``count(*)`` -> ``count``, ``x::text`` -> ``x``,
``'x'::text`` -> ``text``, ``case`` -> ``case``, else ``?column?``). When a ``*`` covers a real
table the columns cannot be known from the text: the answer is ``None`` and those checks need
``engine validate --db``, which asks the database itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from engine.validate.resultcache import ResultCache, library_version

Columns = list[str] | None
Node = Any  # a sqlglot tree node (its base class was renamed across versions: Expression, Expr)
_UNKNOWN = "?column?"


def _arg(node: Node, name: str) -> Node | None:
    """A clause of ``node`` (sqlglot 26+ names them ``from_``/``with_``, older versions ``from``/``with``)."""
    found = node.args.get(f"{name}_")
    return found if found is not None else node.args.get(name)


def _expression_name(node: Node) -> str:
    """PostgreSQL's name for an unaliased select-list expression (FigureColname's common cases)."""
    while isinstance(node, (exp.Paren, exp.Window)):
        node = node.this
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Cast):
        inner = _expression_name(node.this)
        return inner if inner != _UNKNOWN else node.to.sql(dialect="postgres").split("(")[0].lower()
    if isinstance(node, exp.Case):
        return "case"
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return _UNKNOWN


def _sources(select: Node, ctes: dict[str, Columns]) -> list[tuple[str, Columns]]:
    """(name or alias, columns) of every FROM and JOIN item; columns None when not knowable."""
    from_ = _arg(select, "from")
    items = [from_.this] if from_ is not None else []
    items += [j.this for j in select.args.get("joins") or []]
    out: list[tuple[str, Columns]] = []
    for item in items:
        alias = item.args.get("alias")
        declared = [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) and alias.columns else None
        columns: Columns
        if isinstance(item, exp.Subquery):
            columns = _columns(item.this, ctes)
        elif isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier) and not item.db:
            columns = ctes.get(item.name)
        else:
            columns = None  # a real table, a function in FROM, ...
        out.append((item.alias_or_name, declared if declared is not None else columns))
    return out


def _expand(sources: list[tuple[str, Columns]], alias: str | None) -> Columns:
    chosen = [cols for name, cols in sources if alias is None or name == alias]
    if not chosen or any(cols is None for cols in chosen):
        return None
    return [c for cols in chosen for c in (cols or [])]


def _columns(node: Node, ctes: dict[str, Columns]) -> Columns:
    with_ = _arg(node, "with")
    if with_ is not None:
        ctes = dict(ctes)
        for cte in with_.expressions:
            alias = cte.args.get("alias")
            declared = [c.name for c in alias.columns] if alias is not None and alias.columns else None
            ctes[cte.alias] = declared if declared is not None else _columns(cte.this, ctes)
    if isinstance(node, exp.Subquery):
        return _columns(node.this, ctes)
    if isinstance(node, exp.SetOperation):
        return _columns(node.left, ctes)
    if not isinstance(node, exp.Select):
        return None  # VALUES, TABLE, ...: not read
    sources = _sources(node, ctes)
    names: list[str] = []
    for item in node.expressions:
        if isinstance(item, exp.Star):
            found = _expand(sources, None)
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            found = _expand(sources, item.table)
        elif isinstance(item, exp.Alias):
            found = [item.alias]
        else:
            found = [_expression_name(item)]
        if found is None:
            return None
        names.extend(found)
    return names


def infer_columns(sql: str) -> tuple[str, ...] | None:
    """The output column names of ``sql`` (a SELECT), or None when they cannot be read from the text."""
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except SqlglotError:
        return None
    if not isinstance(tree, (exp.Select, exp.SetOperation, exp.Subquery)):
        return None
    columns = _columns(tree, {})
    return tuple(columns) if columns is not None else None


def cached_infer_columns(sql: str, folder: Path | None) -> tuple[str, ...] | None:
    """``infer_columns``, its answer kept in ``folder`` under a hash of the text and sqlglot's version.

    Parsing every query with sqlglot was the largest part of a warm ``engine validate`` (1.4 s of
    3 s for 50 audiences); the answer depends on nothing else. A cache that fails only costs time.
    """
    cache = ResultCache(folder, "columns")
    return cache.remember(
        cache.key("columns-1", library_version("sqlglot"), sql),
        lambda: infer_columns(sql),
        encode=lambda found: list(found) if found is not None else None,
        decode=lambda stored: tuple(str(c) for c in stored) if stored is not None else None,
    )
