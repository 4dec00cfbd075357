"""``catalog/*``: every table and column the rendered audience SQL names is in ``catalog/source.yaml``.

Without a database this is the check that catches ``from user_activites`` or ``u.frist_name``
(the SQL text alone cannot). References come from PostgreSQL's parse tree (``engine.catalog.refs``)
and only certain ones are judged, so a CTE, a subquery or a column a macro writes is never
misreported. A query with such an error has no trusted output columns: the checks downstream of
it (YAML lines using its columns) would only repeat the error, with the typo as their suggestion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from jinja2.sandbox import SandboxedEnvironment

from engine.catalog.model import Catalog
from engine.catalog.refs import ColumnUse, TableRef, references
from engine.catalog.store import CATALOG_FILE, load_catalog
from engine.config import Settings
from engine.errors import EngineError
from engine.pgquery import ShapeError
from engine.render.env import make_environment
from engine.render.locate import locate
from engine.render.model import RenderedQuery
from engine.validate.audiences import load_entries
from engine.validate.findings import Findings
from engine.validate.render import render_queries

Query = tuple[str, str, RenderedQuery]  # (audience, template, rendered query)
_PULL = "if the database has it, run `engine catalog pull` (and review the diff of catalog/source.yaml)"


def _refs(rendered: RenderedQuery) -> tuple[tuple[TableRef, ...], tuple[ColumnUse, ...]]:
    try:
        found = references(rendered.sql)
    except ShapeError:  # reported by the render check
        return (), ()
    return found.tables, found.columns


@dataclass(frozen=True)
class _Query:
    """One rendered query being checked, and where its findings go."""

    findings: Findings
    env: SandboxedEnvironment
    audience: str
    template: str
    rendered: RenderedQuery

    def report(self, rule: str, message: str, offset: int, suggestion: str | None) -> None:
        path, line, col = locate(self.env, self.template, self.rendered.sql, offset)
        hint = f"did you mean {suggestion!r}? " if suggestion else ""
        self.findings.add(
            rule,
            f"{message} (audience {self.audience!r}, query {self.rendered.name!r})",
            path=path,
            line=line,
            col=col,
            hint=hint + _PULL,
        )


def _check_query(query: _Query, catalog: Catalog) -> bool:
    """Report the query's unknown tables and columns; whether it had any."""
    tables, columns = _refs(query.rendered)
    found = False
    for table in tables:
        if catalog.knows_schema(table.schema) and catalog.columns(table.schema, table.name) is None:
            found = True
            query.report(
                "catalog/unknown-table",
                f"unknown table {table.name!r}: {CATALOG_FILE} does not declare it",
                table.offset,
                catalog.suggest_table(table.name),
            )
    for use in columns:
        known = [catalog.columns(t.schema, t.name) for t in use.tables]
        declared = [c for c in known if c is not None]
        if len(declared) < len(known) or any(use.column in c for c in declared):
            continue  # a table the catalog does not know (reported above), or found
        found = True
        names = " or ".join(repr(t.name) for t in use.tables)
        query.report(
            "catalog/unknown-column",
            f"unknown column {use.column!r}: table {names} has no such column in {CATALOG_FILE}",
            use.offset,
            catalog.suggest_column(declared, use.column),
        )
    return found


def check_catalog(
    findings: Findings, env: SandboxedEnvironment, catalog: Catalog, queries: Sequence[Query]
) -> set[tuple[str, str]]:
    """Report unknown tables and columns, located in the ``.sql`` files; the (audience, query)s that have one."""
    return {
        (audience, rendered.name)
        for audience, template, rendered in queries
        if _check_query(_Query(findings, env, audience, template, rendered), catalog)
    }


def project_tables(project_dir: Path) -> set[tuple[str | None, str]]:
    """(schema or None, table) of every table the project's audience SQL reads, rendered as ``validate`` does."""
    findings = Findings(project_dir)  # problems are validate's to report; a pull reads what renders
    env = make_environment(project_dir / "sql")
    tables: set[tuple[str | None, str]] = set()
    for entry in load_entries(project_dir, findings):
        if entry.spec is None:
            continue
        for rendered in render_queries(findings, env, project_dir / "sql", entry.spec).values():
            tables.update((t.schema, t.name) for t in _refs(rendered)[0])
    return tables


def check_project_catalog(
    findings: Findings,
    settings: Settings,
    env: SandboxedEnvironment,
    queries: Sequence[Query],
    *,
    stale: bool,
    references: bool,
) -> set[tuple[str, str]]:
    """The catalog checks when the project has a catalog: ``stale`` compares it with the source database,
    ``references`` checks the queries (``check_catalog``; off when the database prepares them: its errors are exact)."""
    try:
        loaded = load_catalog(settings.project_dir)
    except EngineError as err:
        findings.add_error(err, "catalog/file", default_path=str(CATALOG_FILE))
        return set()
    if loaded is None:
        return set()
    catalog, doc = loaded
    if stale:
        from engine.validate.catalogstale import check_stale  # noqa: PLC0415  (psycopg only with --db)

        check_stale(findings, settings, catalog, doc)
    return check_catalog(findings, env, catalog, queries) if references else set()
