"""``catalog/stale`` (with ``--db``): where ``catalog/source.yaml`` no longer says what the database has.

A table or column the catalog declares but the database lacks, or whose type changed, is a
warning at its line of the catalog: the offline check is then judging against an old schema.
"""

from __future__ import annotations

from engine.catalog.introspect import read_schema
from engine.catalog.model import Catalog
from engine.config import Settings
from engine.db import connect_source
from engine.documents import Document
from engine.validate.findings import Findings

_HINT = "run `engine catalog pull` and review the diff of catalog/source.yaml"


def check_stale(findings: Findings, settings: Settings, catalog: Catalog, doc: Document) -> None:
    """Compare the catalog with the source database (read-only) and warn at each entry that differs."""
    with connect_source(settings) as conn:
        live = read_schema(conn, catalog.schema, catalog.tables)

    def warn(message: str, key_path: tuple[str, ...], *, at_value: bool = False) -> None:
        loc = doc.locate_value(key_path) if at_value else doc.locate(key_path)
        findings.add(
            "catalog/stale",
            message,
            path=loc.file,
            line=loc.line,
            col=loc.col,
            hint=_HINT,
            severity="warning",
            key_path=loc.key_path,
        )

    for table, columns in sorted(catalog.tables.items()):
        actual = live.tables.get(table)
        if actual is None:
            warn(
                f"table {table!r} is in the catalog but not in schema {catalog.schema!r} of the database",
                ("tables", table),
            )
            continue
        for column, type_ in sorted(columns.items()):
            if column not in actual:
                warn(f"column {table}.{column} is in the catalog but not in the database", ("tables", table, column))
            elif actual[column] != type_:
                warn(
                    f"column {table}.{column} is {actual[column]} in the database, {type_} in the catalog",
                    ("tables", table, column),
                    at_value=True,
                )
