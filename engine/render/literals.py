"""Rendered SQL with its bound values written in as SQL literals, for `engine compile` (paste into psql).

Only for reading: runs always bind values as parameters. psycopg's ``sql.Literal`` does the
quoting (strings doubled, timestamps cast, lists as array literals). The text is written only
where PostgreSQL's parser reads each placeholder as a parameter (``engine.pgquery``), and the
result is parsed again: what is printed is one SELECT whatever the values hold, so pasting it
into psql cannot run a statement a value smuggled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from psycopg import sql

from engine.errors import RenderError, SourceLocation
from engine.pgquery import ShapeError, check_query, check_statement
from engine.render.model import RenderedQuery

# a placeholder, with the cast the SQL puts right after it (``{{ as_of }}::timestamptz``) when there is one
_MARK = re.compile(r"%%|%\((\w+)\)s(?=(\s*::\s*[\w\[\]]+)?)")
_CAST = re.compile(r"::([\w\[\]]+)$")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def literal(value: Any) -> str:
    """One value as a PostgreSQL literal (``'2026-11-23 12:00:00+00:00'::timestamptz``, ``'{a,b}'``)."""
    return sql.Literal(value).as_string(None)


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\x0a``): a value printed in a ``--`` comment stays in it."""
    return _LINE_BREAKS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _cast_once(value: str, cast_after: str | None) -> str:
    """``value`` without its own cast when the SQL casts it to the same type: ``'…'::timestamptz``, not
    ``'…'::timestamptz::timestamptz``."""
    own = _CAST.search(value)
    if own and cast_after and own.group(1).lower() == cast_after.split("::")[-1].strip().lower():
        return value[: own.start()]
    return value


def inline(text: str, params: Mapping[str, Any]) -> str:
    """``text`` with each ``%(name)s`` replaced by the literal of ``params[name]`` and ``%%`` by ``%``.

    Raises ShapeError when ``text`` is not one plain SELECT with its placeholders in code, or when
    the values made the result anything else.
    """
    check_query(text)
    compiled = _MARK.sub(
        lambda m: "%" if m.group(0) == "%%" else _cast_once(literal(params[m.group(1)]), m.group(2)), text
    )
    try:
        leftover = check_statement(compiled)
    except ShapeError as err:
        raise ShapeError(
            f"with its values written in, the query is no longer one SELECT: {err.message}",
            0,
            "a value changed the statement: report this query and its --var values",
        ) from None
    if leftover:
        raise ShapeError(
            "with its values written in, the query still has a positional parameter", 0, "write {{ name }} for a param"
        )
    return compiled


@dataclass(frozen=True)
class CompiledQuery:
    """A rendered query and its text with the values written in (what `engine compile` prints)."""

    query: RenderedQuery
    with_literals: str


def compiled(rendered: RenderedQuery, place: Callable[[RenderedQuery, int], SourceLocation]) -> CompiledQuery:
    """``rendered`` with its values written in; a refused shape is a RenderError at its ``.sql`` line."""
    try:
        return CompiledQuery(rendered, inline(rendered.sql, rendered.params))
    except ShapeError as err:
        offset = err.offset + (2 if rendered.sql.startswith("%(", err.offset) else 0)
        raise RenderError(
            f"query {rendered.name!r} ({rendered.origin}): {err.message}",
            hint=err.hint,
            location=place(rendered, offset),
        ) from None
