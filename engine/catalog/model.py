"""``Catalog``: what the committed catalog declares, and the did-you-mean over it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Mapping

Columns = Mapping[str, str]  # column -> type, as PostgreSQL's format_type() writes it


@dataclass(frozen=True)
class Catalog:
    """The tables of one schema (each column with its type) that the project's SQL may read."""

    schema: str
    tables: Mapping[str, Columns] = field(default_factory=dict)

    def columns(self, schema: str | None, table: str) -> Columns | None:
        """The columns of ``table`` (unqualified names are in the catalog's schema); None when not declared."""
        return self.tables.get(table) if schema in (None, self.schema) else None

    def knows_schema(self, schema: str | None) -> bool:
        """Whether a reference in ``schema`` can be judged (the catalog declares one schema)."""
        return schema in (None, self.schema)

    def suggest_table(self, name: str) -> str | None:
        """The declared table closest to ``name``."""
        return _closest(name, self.tables)

    def suggest_column(self, tables: list[Columns], name: str) -> str | None:
        """The column of ``tables`` closest to ``name``."""
        return _closest(name, sorted({c for columns in tables for c in columns}))


def _closest(name: str, known: Mapping[str, object] | list[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


@dataclass(frozen=True)
class CatalogPull:
    """What ``engine catalog pull`` wrote."""

    path: str
    schema: str
    tables: int
    columns: int
    changed: bool
    missing: tuple[str, ...] = ()  # tables the project's SQL reads that the database lacks
