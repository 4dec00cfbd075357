"""Follow the columns through an audience: queries -> binds -> joins -> steps -> outputs.

Each query's columns are inferred from its rendered SQL (``sqlcolumns``) or, with ``--db``,
described by the database. Every later reference (bind columns, join keys, prioritise,
require, thresholds, segment and metric SQL, transform, output columns and order) must name
a column that exists at that point. Segment, metric and transform SQL is bound by DuckDB
itself over an empty view with the audience's columns, so its errors are DuckDB's own.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from engine.documents import Document, KeyPath
from engine.schedules.marks import value_location
from engine.spec.model import AudienceSpec
from engine.transform.sandbox import SandboxError, check_fragment
from engine.validate.findings import Findings

_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')


@dataclass
class AudienceColumns:
    """What the checks learnt: columns per query, of the joined audience, and after the transform."""

    queries: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    joined: tuple[str, ...] | None = None
    final: tuple[str, ...] | None = None


def did_you_mean(name: str, known: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"columns here: {', '.join(known)}" if known else None


class _Checker:
    def __init__(self, findings: Findings, doc: Document, spec: AudienceSpec, duck: Any) -> None:
        self.findings = findings
        self.doc = doc
        self.spec = spec
        self.duck = duck

    def missing(
        self,
        rule: str,
        what: str,
        column: str,
        columns: Sequence[str],
        path: KeyPath,
        offset: int = 0,
        *,
        of: str = "a column of the audience at this point",
    ) -> None:
        loc = value_location(self.doc, path, offset)
        self.findings.add(
            rule,
            f"{what} {column!r}, which is not {of}",
            path=loc.file,
            line=loc.line,
            col=loc.col,
            hint=did_you_mean(column, columns),
            key_path=loc.key_path,
        )

    def need(self, column: str, columns: tuple[str, ...] | None, what: str, path: KeyPath) -> None:
        if columns is not None and column not in columns:
            self.missing("columns/unknown-column", what, column, columns, path)

    # --- DuckDB binding ------------------------------------------------------------------------
    def bind(self, sql: str, columns: Sequence[str], *, describe: bool = False) -> tuple[list[str] | None, str | None]:
        """Bind ``sql`` over an empty ``audience`` view; (columns it returns, DuckDB's error)."""
        import duckdb  # noqa: PLC0415  (only when an audience has SQL fragments)

        select = ", ".join(f'NULL AS "{c}"' for c in columns) or "NULL AS _empty"
        self.duck.execute(f"CREATE OR REPLACE TEMP VIEW audience AS SELECT {select} WHERE false")
        try:
            if describe:
                return [row[0] for row in self.duck.execute(f"DESCRIBE {sql}").fetchall()], None
            self.duck.execute(f"EXPLAIN {sql}")
            return None, None
        except duckdb.Error as err:
            return None, str(err).split("\n", 1)[0]

    def fragment(self, rule: str, what: str, sql: str, expression: str, columns: Sequence[str], path: KeyPath) -> None:
        _, error = self.bind(sql, columns)
        if error is None:
            return
        missing = _MISSING_COLUMN.search(error)
        if missing:
            name = missing.group(1)
            hit = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", expression)
            self.missing(rule, f"{what} uses", name, columns, path, hit.start() if hit else 0)
            return
        loc = value_location(self.doc, path)
        self.findings.add(
            rule,
            f"{what}: {error}",
            path=loc.file,
            line=loc.line,
            col=loc.col,
            key_path=loc.key_path,
            hint="segment and metric SQL runs in DuckDB over the audience",
        )


def _is_query(sql: str) -> bool:
    try:
        check_fragment(sql, "", expression=False)
    except SandboxError:
        return False
    return True


def _duplicates(columns: Sequence[str]) -> list[str]:
    return sorted({c for c in columns if list(columns).count(c) > 1})


def _join(checker: _Checker, result: AudienceColumns) -> tuple[str, ...] | None:
    spec = checker.spec
    current = result.queries.get(spec.base)
    for j, join in enumerate(spec.joins):
        right = result.queries.get(join.query)
        keys_ok = True
        for k, column in enumerate(join.using):
            left_has = current is None or column in current
            right_has = right is None or column in right
            if left_has and right_has:
                continue
            keys_ok = False
            loc = value_location(checker.doc, ("audience", "join", j, "using", k))
            side = (
                f"neither the audience so far nor query {join.query!r} has it"
                if not (left_has or right_has)
                else f"query {join.query!r} does not return it"
                if not right_has
                else "the audience before this join has no such column"
            )
            checker.findings.add(
                "columns/join-key",
                f"join key {column!r}: {side}",
                path=loc.file,
                line=loc.line,
                col=loc.col,
                hint=did_you_mean(column, (right if not right_has else current) or ()),
                key_path=loc.key_path,
            )
        if current is None or right is None:
            current = None
            continue
        shared = sorted((set(current) & set(right)) - set(join.using))
        if shared and keys_ok:
            loc = checker.doc.locate(("audience", "join", j))
            checker.findings.add(
                "columns/ambiguous-join",
                f"column(s) {', '.join(shared)} come from both the audience and query "
                f"{join.query!r} but are not join keys: the joined table would get {shared[0]}_1",
                path=loc.file,
                line=loc.line,
                col=loc.col,
                key_path=loc.key_path,
                hint="add them to using, or leave them out of one of the queries",
            )
        current = current + tuple(c for c in right if c not in join.using and c not in current)
    return current


def _steps(checker: _Checker, cols: tuple[str, ...] | None) -> None:
    spec = checker.spec
    for k, column in enumerate(spec.prioritise_key):
        checker.need(column, cols, "prioritise.key names", ("prioritise", "key", k))
    for k, rule in enumerate(spec.prioritise_order):
        checker.need(rule.column, cols, "prioritise.order sorts on", ("prioritise", "order", k, "column"))
    for k, requirement in enumerate(spec.require):
        checker.need(requirement.column, cols, "require names", ("require", k, "column"))
    for k, threshold in enumerate(spec.thresholds):
        checker.need(threshold.column, cols, "threshold tests", ("thresholds", k, "column"))
    if cols is None:
        return
    for name, expression in spec.segments.items():
        checker.fragment(
            "columns/segment",
            f"segment {name!r}",
            f"SELECT * FROM audience WHERE ({expression})",
            expression,
            cols,
            ("segments", name),
        )


def _outputs(checker: _Checker, cols: tuple[str, ...] | None) -> None:
    for o, output in enumerate(checker.spec.outputs):
        headers = [c.header for c in output.columns]
        for column in output.columns:
            if column.column is not None:
                checker.need(
                    column.column,
                    cols,
                    f"output {output.name!r} column {column.header!r} reads",
                    ("outputs", o, "columns", column.header),
                )
        for k, rule in enumerate(output.order_by):
            checker.need(
                rule.column, cols, f"output {output.name!r} orders by", ("outputs", o, "order_by", k, "column")
            )
        if output.test is None:
            continue
        data = checker.doc.data["outputs"][o].get("test") or {}
        for key in ("values", "fallback"):
            for header in data.get(key) or {}:
                if header not in headers:
                    checker.missing(
                        "columns/test-field",
                        f"output {output.name!r} test.{key} sets",
                        header,
                        headers,
                        ("outputs", o, "test", key, header),
                        of="a header of the output",
                    )
        for k, header in enumerate(data.get("user_fields") or []):
            if header not in headers:
                checker.missing(
                    "columns/test-field",
                    f"output {output.name!r} test.user_fields names",
                    header,
                    headers,
                    ("outputs", o, "test", "user_fields", k),
                    of="a header of the output",
                )


def _bind_columns(checker: _Checker, result: AudienceColumns) -> None:
    for i, query in enumerate(checker.spec.queries):
        for bind in query.binds:
            source = result.queries.get(bind.query)
            if source is not None and bind.column not in source:
                loc = value_location(checker.doc, ("queries", i, "bind", bind.param, "column"))
                checker.findings.add(
                    "columns/bind",
                    f"bind {bind.param!r} reads column {bind.column!r}, which query {bind.query!r} does not return",
                    path=loc.file,
                    line=loc.line,
                    col=loc.col,
                    hint=did_you_mean(bind.column, source),
                    key_path=loc.key_path,
                )


def check_audience_columns(
    findings: Findings,
    doc: Document,
    spec: AudienceSpec,
    query_columns: dict[str, tuple[str, ...] | None],
    duck: Any,
    transform_sql: str | None = None,
) -> AudienceColumns:
    """Every column reference of ``spec`` against the columns the queries return."""
    checker = _Checker(findings, doc, spec, duck)
    result = AudienceColumns(queries=dict(query_columns))
    for i, query in enumerate(spec.queries):
        columns = query_columns.get(query.name)
        for name in _duplicates(columns or ()):
            loc = value_location(doc, ("queries", i, "sql"))
            findings.add(
                "columns/duplicate",
                f"query {query.name!r} returns column {name!r} more than once",
                path=loc.file,
                line=loc.line,
                col=loc.col,
                key_path=loc.key_path,
                hint=f"alias one of them in sql/{query.sql}",
            )
    _bind_columns(checker, result)
    result.joined = _join(checker, result)
    _steps(checker, result.joined)
    result.final = result.joined
    if spec.transform and transform_sql is not None and result.joined is not None and _is_query(transform_sql):
        described, error = checker.bind(transform_sql, result.joined, describe=True)
        if error:
            findings.add(
                "columns/transform",
                f"transform: {error}",
                path=f"sql/{spec.transform}",
                line=1,
                hint="the transform runs in DuckDB over the view `audience`",
            )
        result.final = tuple(described) if described is not None else None
    elif spec.transform:
        result.final = None
    if result.final is not None:
        for name, sql in spec.metrics.items():
            if not _is_query(sql):  # check_sandbox reports it; binding it (EXPLAIN) could run it
                continue
            checker.fragment("columns/metric", f"metric {name!r}", sql, sql, result.final, ("metrics", name))
    _outputs(checker, result.final)
    return result
