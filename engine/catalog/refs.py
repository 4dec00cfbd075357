"""The tables and columns a rendered query reads, resolved on PostgreSQL's own parse tree.

A FROM item is a table (a ``RangeVar`` that names no CTE in scope) or something else (a CTE, a
subquery, a function, a join's alias) whose columns the text alone does not give. ``alias.column``
resolves through the scopes, innermost first, as PostgreSQL resolves it. A bare ``column`` is kept
only when it is certain: every FROM item of every scope it could come from is a table, and it sits
where an output column's name cannot stand (not in ORDER BY, GROUP BY or DISTINCT ON). Anything
the tree leaves open is left out: a reference is reported only when it is certainly wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.pgquery import ParsedSelect, parse_select

_OUTPUT_NAMES_ALLOWED = ("sortClause", "groupClause", "distinctClause")


@dataclass(frozen=True)
class TableRef:
    """A table a query reads (``schema`` None when unqualified), at a character offset of the rendered SQL."""

    schema: str | None
    name: str
    offset: int


@dataclass(frozen=True)
class ColumnUse:
    """A column read from one of ``tables`` (one when qualified; a bare column may come from several)."""

    column: str
    tables: tuple[TableRef, ...]
    offset: int
    qualified: bool


@dataclass(frozen=True)
class References:
    """Every table and every certain column reference of one query."""

    tables: tuple[TableRef, ...]
    columns: tuple[ColumnUse, ...]


@dataclass
class _Scope:
    """The FROM items of one SELECT: name -> the table it is, or None for anything else."""

    items: dict[str, TableRef | None] = field(default_factory=dict)
    opaque: bool = False  # an item whose columns (or name) the text does not give

    def add(self, name: str | None, table: TableRef | None) -> None:
        if name is not None:
            self.items[name] = table
        if table is None:
            self.opaque = True


Scopes = tuple[_Scope, ...]  # innermost first


class _Walker:
    def __init__(self, parsed: ParsedSelect, sql: str) -> None:
        self.parsed = parsed
        self.sql = sql
        self.tables: list[TableRef] = []
        self.columns: list[ColumnUse] = []

    def select(self, node: dict[str, Any], outer: Scopes, ctes: frozenset[str]) -> None:
        with_ = node.get("withClause")
        if with_:
            for cte in with_.get("ctes", []):
                body = cte["CommonTableExpr"]
                own = ctes | {body["ctename"]} if with_.get("recursive") else ctes
                self.statement(body["ctequery"], outer, own)
                ctes = ctes | {body["ctename"]}
        if node.get("op", "SETOP_NONE") != "SETOP_NONE":
            self.select(node["larg"], outer, ctes)
            self.select(node["rarg"], outer, ctes)
            opaque = _Scope(opaque=True)  # ORDER BY of a UNION names its output columns
            for key in ("sortClause", "limitOffset", "limitCount"):
                self.expression(node.get(key), (opaque, *outer), ctes, bare=False)
            return
        scope = _Scope()
        for item in node.get("fromClause", []):
            self.from_item(item, scope, outer, ctes)
        scopes = (scope, *outer)
        for key, value in node.items():
            if key not in {"withClause", "fromClause", "larg", "rarg"}:
                self.expression(value, scopes, ctes, bare=key not in _OUTPUT_NAMES_ALLOWED)

    def statement(self, wrapped: dict[str, Any], outer: Scopes, ctes: frozenset[str]) -> None:
        if "SelectStmt" in wrapped:
            self.select(wrapped["SelectStmt"], outer, ctes)

    def from_item(self, item: dict[str, Any], scope: _Scope, outer: Scopes, ctes: frozenset[str]) -> None:
        kind, node = next(iter(item.items()))
        alias = (node.get("alias") or {}).get("aliasname")
        if kind == "RangeVar":
            schema, name = node.get("schemaname"), node["relname"]
            if schema is None and name in ctes:
                scope.add(alias or name, None)
                return
            table = TableRef(schema, name, self.parsed.offset(node.get("location", 0)))
            self.tables.append(table)
            renamed = bool((node.get("alias") or {}).get("colnames"))
            scope.add(alias or name, None if renamed else table)
        elif kind == "JoinExpr":
            self.from_item(node["larg"], scope, outer, ctes)
            self.from_item(node["rarg"], scope, outer, ctes)
            self.expression(node.get("quals"), (scope, *outer), ctes, bare=True)
            if alias:
                scope.add(alias, None)
        elif kind == "RangeSubselect":
            self.statement(node["subquery"], (scope, *outer) if node.get("lateral") else outer, ctes)
            scope.add(alias, None)
        elif kind == "RangeTableSample":
            self.from_item(node["relation"], scope, outer, ctes)
        else:  # a function, XMLTABLE, JSON_TABLE: may read earlier items
            self.expression(node, (scope, *outer), ctes, bare=False)
            scope.add(alias, None)

    def expression(self, value: Any, scopes: Scopes, ctes: frozenset[str], *, bare: bool) -> None:
        if isinstance(value, list):
            for child in value:
                self.expression(child, scopes, ctes, bare=bare)
        elif isinstance(value, dict):
            if "ColumnRef" in value:
                self.column_ref(value["ColumnRef"], scopes, bare=bare)
            elif "SelectStmt" in value:
                self.select(value["SelectStmt"], scopes, ctes)
            else:
                for child in value.values():
                    self.expression(child, scopes, ctes, bare=bare)

    def column_ref(self, node: dict[str, Any], scopes: Scopes, *, bare: bool) -> None:
        fields = [f.get("String", {}).get("sval") for f in node.get("fields", [])]
        if None in fields or len(fields) > 2:  # ``x.*``, ``*``, ``schema.table.column``: nothing to check
            return
        location = self.parsed.offset(node.get("location", 0))
        if len(fields) == 2:
            qualifier, column = fields
            for scope in scopes:
                if qualifier in scope.items:
                    table = scope.items[qualifier]
                    if table is not None:
                        self.columns.append(ColumnUse(column, (table,), self._at(column, location), True))
                    return
            return  # no such FROM item: the database's error, not the catalog's
        column = fields[0]
        if not bare or any(column in scope.items for scope in scopes):  # a whole-row reference ``u``
            return
        if any(scope.opaque for scope in scopes):
            return
        tables = tuple(t for scope in scopes for t in scope.items.values() if t is not None)
        if tables:
            self.columns.append(ColumnUse(column, tables, location, False))

    def _at(self, column: str, location: int) -> int:
        """The offset of the column's own name in ``alias.column`` (the alias's when it is written otherwise)."""
        found = self.sql.find(column, location)
        return found if 0 <= found - location <= 70 and "\n" not in self.sql[location:found] else location


def references(sql: str) -> References:
    """The tables and certain column references of rendered ``sql`` (ShapeError unless it is one SELECT)."""
    walker = _Walker(parse_select(sql), sql)
    walker.select(walker.parsed.select, (), frozenset())
    return References(tuple(walker.tables), tuple(walker.columns))
