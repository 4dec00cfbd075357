"""Small builders of DuckDB SQL fragments from spec parts (identifiers are schema-checked)."""

from __future__ import annotations

from typing import Any, Iterable

from engine.spec.model import OrderRule


def ident(name: str) -> str:
    """Quote a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A DuckDB literal for a YAML scalar (string, number, boolean, null)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def order_terms(rules: Iterable[OrderRule]) -> list[str]:
    """ORDER BY terms; an explicit ``values`` list ranks in list order, unknown values last."""
    terms = []
    for rule in rules:
        col = ident(rule.column)
        if rule.values:
            cases = " ".join(f"WHEN {literal(v)} THEN {i}" for i, v in enumerate(rule.values))
            terms.append(f"CASE {col} {cases} ELSE {len(rule.values)} END ASC")
        else:
            terms.append(f"{col} {rule.direction.upper()} NULLS LAST")
    return terms


def python_datetime(expr: str) -> str:
    """Format a TIMESTAMPTZ as Python's str() of a UTC-aware datetime (no fraction when zero)."""
    utc = f"timezone('UTC', {expr})"
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL "
        f"WHEN microsecond({utc}) % 1000000 = 0 THEN strftime({utc}, '%Y-%m-%d %H:%M:%S') || '+00:00' "
        f"ELSE strftime({utc}, '%Y-%m-%d %H:%M:%S.%f') || '+00:00' END"
    )
