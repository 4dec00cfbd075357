"""``engine validate --db``: prepare every rendered query on the source database, never run it.

Each query is sent as an unnamed prepared statement (parse + analyse only: unknown tables,
columns, functions and type errors surface, nothing executes, on a read-only session), with
parameter types taken from the same values a run would bind. The statement is then described,
so the column checks use the database's own column names. An error's position in the SQL is
mapped back to the ``.sql`` file: the line holding the offending name that best matches the
rendered line (the template, or a macro file it imports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from jinja2.sandbox import SandboxedEnvironment
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import DiagnosticField, ExecStatus

from engine.config import Settings
from engine.db import connect
from engine.render.locate import locate
from engine.render.model import RenderedQuery
from engine.secrets import mask_text
from engine.validate.findings import Findings

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_RULES = {
    "42P01": "db/unknown-table",
    "42703": "db/unknown-column",
    "42883": "db/unknown-function",
    "42601": "db/syntax",
    "42804": "db/type",
    "42P18": "db/type",
}


@dataclass(frozen=True)
class Prepared:
    """The database's answer for one query: its columns, or the error and where it points."""

    columns: tuple[str, ...] | None
    sqlstate: str | None = None
    message: str | None = None
    hint: str | None = None
    position: int | None = None  # 0-based offset in the rendered SQL


def to_positional(sql: str) -> tuple[str, list[str], list[tuple[int, int]]]:
    """``%(name)s`` -> ``$n`` as psycopg sends it; also (sent offset, rendered offset) anchors."""
    order: list[str] = []
    anchors: list[tuple[int, int]] = [(0, 0)]
    out: list[str] = []
    last = sent = 0
    for match in _PLACEHOLDER.finditer(sql):
        out.append(sql[last : match.start()])
        sent += match.start() - last
        if match.group(0) == "%%":
            text = "%"
        else:
            if match.group(1) not in order:
                order.append(match.group(1))
            text = f"${order.index(match.group(1)) + 1}"
        out.append(text)
        sent += len(text)
        last = match.end()
        anchors.append((sent, last))
    out.append(sql[last:])
    return "".join(out), order, anchors


def _rendered_offset(position: int, anchors: list[tuple[int, int]]) -> int:
    sent, rendered = max((a for a in anchors if a[0] <= position), default=(0, 0))
    return rendered + (position - sent)


def prepare(conn: psycopg.Connection, rendered: RenderedQuery) -> Prepared:
    """Prepare (parse and analyse) ``rendered`` on ``conn`` and describe its result columns."""
    sql, order, anchors = to_positional(rendered.sql)
    transformer = Transformer(conn)
    transformer.dump_sequence([rendered.params[name] for name in order], [PyFormat.AUTO] * len(order))
    pgconn = conn.pgconn
    result = pgconn.prepare(b"", sql.encode("utf-8"), list(transformer.types or ()) or None)
    if result.status == ExecStatus.FATAL_ERROR:

        def field(code: DiagnosticField) -> str | None:
            value = result.error_field(code)
            return value.decode("utf-8", "replace") if value else None

        position = field(DiagnosticField.STATEMENT_POSITION)
        offset = None
        if position and position.isdigit():
            offset = _rendered_offset(len(sql.encode("utf-8")[: int(position) - 1].decode("utf-8", "ignore")), anchors)
        return Prepared(
            None,
            field(DiagnosticField.SQLSTATE),
            field(DiagnosticField.MESSAGE_PRIMARY),
            field(DiagnosticField.MESSAGE_HINT),
            offset,
        )
    described = pgconn.describe_prepared(b"")
    return Prepared(tuple((described.fname(i) or b"").decode("utf-8") for i in range(described.nfields)))


def check_on_database(
    findings: Findings, settings: Settings, env: SandboxedEnvironment, queries: list[tuple[str, str, RenderedQuery]]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """Prepare each (audience, template, rendered query); report errors; return described columns."""
    dsn = settings.require_source_dsn()
    described: dict[tuple[str, str], tuple[str, ...]] = {}
    with connect(
        dsn,
        read_only=True,
        statement_timeout_s=settings.statement_timeout_s,
        retries=settings.connect_retries,
        autocommit=True,
    ) as conn:
        for audience, template, rendered in queries:
            answer = prepare(conn, rendered)
            if answer.columns is not None:
                described[(audience, rendered.name)] = answer.columns
                continue
            path, line, col = (
                locate(env, template, rendered.sql, answer.position)
                if answer.position is not None
                else (f"sql/{template}", None, None)
            )
            findings.add(
                _RULES.get(answer.sqlstate or "", "db/error"),
                f"{mask_text(answer.message or 'query failed', dsn)} [{answer.sqlstate}] "
                f"(audience {audience!r}, query {rendered.name!r}, prepared on the database)",
                path=path,
                line=line,
                col=col,
                hint=answer.hint or "check table and column names against the app schema",
            )
    return described
