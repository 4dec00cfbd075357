"""Audience SQL as PostgreSQL reads it: one plain SELECT, values only in code, no refused function.

Every decision is made on PostgreSQL's own parse tree: pglast wraps libpg_query, the server's
parser as a library, so the engine and the server cannot read a dollar quote, an ``E''`` string
continued on the next line or a nested comment differently.

One piece of text handling is left, because no SQL parser can do it: finding the engine's own
placeholders. Jinja renders each value as psycopg's ``%(name)s`` (a literal ``%`` as ``%%``),
which is not SQL. Each placeholder is replaced by a distinct positional parameter ``$n`` and the
parse tree says where it stands: one the tree holds as a parameter is in code; one it does not
hold was inside a string, a quoted identifier, a comment or a name, where a value would become
SQL text (``engine compile`` writes values in as literals).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast import parser

from engine.policy.functions import refusal

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_POSITIONAL = re.compile(r"\$(\d+)")
ONLY_SELECT = "an audience query only reads: exactly one SELECT (or WITH ... SELECT)"
_TEXT_TOKENS = {
    "SCONST": "a string literal",
    "USCONST": "a string literal",
    "BCONST": "a bit-string literal",
    "XCONST": "a bit-string literal",
    "SQL_COMMENT": "a comment",
    "C_COMMENT": "a comment",
}


@dataclass(frozen=True)
class ShapeError(Exception):
    """The rendered SQL is not one plain SELECT; ``offset`` is where (0-based), ``rule`` names the finding."""

    message: str
    offset: int
    hint: str
    rule: str = "sql/one-statement"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class _Positional:
    """The rendered text with each placeholder as ``$n``, and where each one was in both texts."""

    text: str
    names: dict[int, tuple[str, int, int]]  # $n -> (name, offset in text, offset in the rendered SQL)
    anchors: tuple[tuple[int, int], ...]  # (offset in text, offset in the rendered SQL)

    def rendered(self, offset: int) -> int:
        at, origin = max((a for a in self.anchors if a[0] <= offset), default=(0, 0))
        return origin + (offset - at)


def _positional(sql: str) -> _Positional:
    first = max((int(n) for n in _POSITIONAL.findall(sql)), default=0) + 1  # never one the SQL itself wrote
    out: list[str] = []
    names: dict[int, tuple[str, int, int]] = {}
    anchors = [(0, 0)]
    last = length = 0
    for match in PLACEHOLDER.finditer(sql):
        piece = "%" if match.group(0) == "%%" else f"${first + len(names)}"
        out.append(sql[last : match.start()])
        length += match.start() - last
        if match.group(1):
            names[first + len(names)] = (match.group(1), length, match.start())
        anchors.append((length, match.start()))
        out.append(piece)
        length += len(piece)
        last = match.end()
        anchors.append((length, last))
    out.append(sql[last:])
    return _Positional("".join(out), names, tuple(anchors))


def _nodes(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (node type, node) of a libpg_query JSON tree, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key[:1].isupper() and isinstance(child, dict):
                yield key, child
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)


def _chars(text: str, byte_offset: int) -> int:
    """The character offset of a byte offset (libpg_query's tree counts bytes)."""
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _parse(text: str) -> list[dict[str, Any]]:
    try:
        return list(json.loads(parser.parse_sql_json(text)).get("stmts", []))
    except parser.ParseError as err:
        location = err.args[1] if len(err.args) > 1 and isinstance(err.args[1], int) else len(text)
        raise ShapeError(
            f"PostgreSQL cannot parse the query: {err.args[0]}",
            location,
            "fix the SQL at this place (PostgreSQL's own parser read it)",
            "sql/syntax",
        ) from None


@dataclass(frozen=True)
class ParsedSelect:
    """A rendered query's SelectStmt as PostgreSQL parses it; ``offset`` maps a tree location back."""

    select: dict[str, Any]
    positional: _Positional

    def offset(self, location: int) -> int:
        """The character offset in the rendered SQL of a tree ``location`` (a byte offset, placeholders as ``$n``)."""
        return self.positional.rendered(_chars(self.positional.text, location))


def parse_select(sql: str) -> ParsedSelect:
    """The parse tree of rendered ``sql`` (its placeholders as ``$n``); ShapeError unless it is one SELECT."""
    positional = _positional(sql)
    return ParsedSelect(_one_select(positional.text, _parse(positional.text))["SelectStmt"], positional)


def _one_select(text: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The one SelectStmt of ``text`` (no ``;`` after it: the engine wraps it in ``COPY (...)``)."""
    if not statements:
        raise ShapeError("the query is empty", 0, ONLY_SELECT)
    first = statements[0]
    end = first.get("stmt_location", 0) + first.get("stmt_len", 0)
    if len(statements) > 1 or (first.get("stmt_len") and text.encode("utf-8")[end : end + 1] == b";"):
        where = _chars(text, end) if first.get("stmt_len") else 0
        more = f"{len(statements)} statements" if len(statements) > 1 else "a statement ended by ';'"
        raise ShapeError(
            f"more than one statement: PostgreSQL's parser reads {more}", where, ONLY_SELECT + ", with no ';'"
        )
    (kind,) = first["stmt"]
    if kind != "SelectStmt":
        found = kind.removesuffix("Stmt").upper()
        raise ShapeError(
            f"the query is a {found} statement: only SELECT (or WITH ... SELECT) may run",
            _chars(text, first.get("stmt_location", 0)),
            ONLY_SELECT,
        )
    return dict(first["stmt"])


def _refuse_node(text: str, kind: str, node: dict[str, Any]) -> None:
    where = _chars(text, node.get("location", 0))
    if kind == "SelectStmt" and node.get("intoClause"):
        raise ShapeError(
            "SELECT ... INTO creates a table: an audience query only reads",
            _chars(text, node["intoClause"].get("rel", {}).get("location", 0)),
            ONLY_SELECT,
        )
    if kind == "SelectStmt" and node.get("lockingClause"):
        raise ShapeError(
            "FOR UPDATE / FOR SHARE locks rows: an audience query only reads",
            0,
            "remove the locking clause",
            "sql/refused-function",
        )
    if kind == "CommonTableExpr":
        (query_kind,) = node["ctequery"]
        if query_kind != "SelectStmt":
            raise ShapeError(
                f"WITH {node.get('ctename')} runs {query_kind.removesuffix('Stmt').upper()}: "
                "a data-modifying WITH writes",
                where,
                ONLY_SELECT,
            )
    if kind == "FuncCall":
        name = node["funcname"][-1]["String"]["sval"]
        refused = refusal("postgres", name)
        if refused:
            raise ShapeError(
                refused.message("the query"),
                where,
                "the refused functions are listed, with a reason each, in engine/policy/refused_functions.yaml",
                "sql/refused-function",
            )


def check_statement(text: str) -> set[int]:
    """Raise ShapeError unless ``text`` is one SELECT that passes the function policy; its ``$n`` numbers."""
    select = _one_select(text, _parse(text))
    numbers: set[int] = set()
    for kind, node in _nodes(select):
        _refuse_node(text, kind, node)
        if kind == "ParamRef":
            numbers.add(int(node.get("number", 0)))
    return numbers


def _inside(text: str, offset: int) -> str:
    """What PostgreSQL's scanner reads at ``offset``: the kind of text a placeholder fell into."""
    for token in parser.scan(text):
        if token.start <= offset <= token.end:
            if token.name in _TEXT_TOKENS:
                return "a dollar-quoted string" if text[token.start] == "$" else _TEXT_TOKENS[token.name]
            if token.name in {"IDENT", "UIDENT"} and text[token.start] in '"Uu':
                return "a quoted identifier"
            return f"the name {text[token.start : token.end + 1]!r}"
    return "text"


def check_query(sql: str) -> None:
    """Raise ShapeError unless rendered ``sql`` is one SELECT, its placeholders all in code, no refused function."""
    positional = _positional(sql)
    try:
        numbers = check_statement(positional.text)
    except ShapeError as err:
        raise ShapeError(err.message, positional.rendered(err.offset), err.hint, err.rule) from None
    for number in sorted(numbers - set(positional.names)):
        raise ShapeError(
            f"positional parameter ${number} is not bound by the engine",
            positional.rendered(positional.text.find(f"${number}")),
            "write {{ name }} for a param (values are bound by name)",
            "sql/value-in-text",
        )
    for number, (name, at, origin) in sorted(positional.names.items()):
        if number not in numbers:
            raise ShapeError(
                f"bound parameter {name!r} is inside {_inside(positional.text, at)}",
                origin,
                "a value is never SQL text: write {{ name }} outside quotes and comments "
                "and cast it, e.g. {{ name }}::text",
                "sql/value-in-text",
            )
