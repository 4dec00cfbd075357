"""Where code ends and text begins in a rendered query: one statement, placeholders only in code.

A PostgreSQL lexer just deep enough for two guarantees that do not depend on the database:
the rendered SQL is exactly one statement that cannot close the engine's ``COPY (...)``
wrapper (no ``;`` outside literals and comments, parentheses balanced, nothing left open),
and every bound-value placeholder (``%(name)s``) stands in code, never inside a string
literal, quoted identifier or comment, where its value would become SQL text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
# where a literal or comment may open: the lexer jumps from one to the next instead of reading every character
_OPENER = re.compile(r"['\"$]|--|/\*")
_PAREN = re.compile(r"[()]")
_TEXT_KIND = {"'": "a string literal", '"': "a quoted identifier", "$": "a dollar-quoted string",
              "-": "a comment", "/": "a comment"}


@dataclass(frozen=True)
class ShapeError(Exception):
    """The rendered SQL is not one well-formed statement; ``offset`` is where (0-based)."""

    message: str
    offset: int
    hint: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Span:
    """A stretch of the SQL: ``code`` or text (``kind`` names the literal or comment)."""

    start: int
    end: int
    kind: str   # "code" or a _TEXT_KIND value


def _close(sql: str, start: int) -> tuple[int, str]:
    """(end offset, kind) of the literal or comment opening at ``start``; raises if never closed."""
    char = sql[start]
    if char in "'\"":
        backslashes = char == "'" and start > 0 and sql[start - 1] in "eE" and \
            (start == 1 or not (sql[start - 2].isalnum() or sql[start - 2] == "_"))
        i = start + 1
        while i < len(sql):
            if backslashes and sql[i] == "\\":
                i += 2
                continue
            if sql[i] == char:
                if sql[i + 1:i + 2] == char:
                    i += 2
                    continue
                return i + 1, _TEXT_KIND[char]
            i += 1
        raise ShapeError(f"{_TEXT_KIND[char]} is never closed", start, "close the quote")
    if char == "-":
        end = sql.find("\n", start)
        return (len(sql) if end < 0 else end), _TEXT_KIND[char]
    if char == "/":
        depth, i = 1, start + 2
        while i < len(sql):
            if sql.startswith("/*", i):
                depth, i = depth + 1, i + 2
            elif sql.startswith("*/", i):
                depth, i = depth - 1, i + 2
                if depth == 0:
                    return i, _TEXT_KIND[char]
            else:
                i += 1
        raise ShapeError("a /* comment is never closed", start, "close it with */")
    tag = _DOLLAR_TAG.match(sql, start)
    assert tag is not None
    end = sql.find(tag.group(0), tag.end())
    if end < 0:
        raise ShapeError(f"a dollar-quoted string {tag.group(0)} is never closed", start, "close it")
    return end + len(tag.group(0)), _TEXT_KIND["$"]


def spans(sql: str) -> list[Span]:
    """Split ``sql`` into code and text spans."""
    out: list[Span] = []
    code_start = 0
    found = _OPENER.search(sql)
    while found is not None:
        i = found.start()
        if sql[i] == "$" and ((i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_"))
                              or _DOLLAR_TAG.match(sql, i) is None):
            found = _OPENER.search(sql, i + 1)
            continue
        end, kind = _close(sql, i)
        if i > code_start:
            out.append(Span(code_start, i, "code"))
        out.append(Span(i, end, kind))
        code_start = end
        found = _OPENER.search(sql, end)
    if code_start < len(sql):
        out.append(Span(code_start, len(sql), "code"))
    return out


def check_one_statement(sql: str, *, expression: bool = False) -> list[Span]:
    """Raise ShapeError unless ``sql`` is one statement (or one ``expression``) inside its parentheses."""
    parts = spans(sql)
    for span in parts:
        if span.kind != "code":
            found = PLACEHOLDER.search(sql, span.start, span.end)
            if found and found.group(1):
                raise ShapeError(f"bound parameter {found.group(1)!r} is inside {span.kind}", found.start(),
                                 "a value is never SQL text: write {{ name }} outside quotes and comments "
                                 "and cast it, e.g. {{ name }}::text")
        elif ";" in sql[span.start:span.end]:
            raise ShapeError("more than one statement: ';' outside a string or comment",
                             sql.index(";", span.start, span.end),
                             "this is exactly one SELECT (or WITH ... SELECT)" if not expression
                             else "a segment or threshold is one SQL expression")
    depth = 0
    for span in (s for s in parts if s.kind == "code"):
        for paren in _PAREN.finditer(sql, span.start, span.end):
            depth += 1 if paren.group() == "(" else -1
            if depth < 0:
                raise ShapeError("')' closes a parenthesis it never opened", paren.start(),
                                 "this is exactly one statement with balanced parentheses")
    if depth > 0:
        raise ShapeError(f"{depth} parenthesis(es) never closed", len(sql), "balance the parentheses")
    if expression:
        return parts
    first = next((sql[s.start:s.end].split() for s in parts if s.kind == "code" and sql[s.start:s.end].strip()), [])
    word = first[0].lower().lstrip("(") if first else ""
    if word not in {"select", "with", "values", "table", ""}:
        raise ShapeError(f"the query starts with {first[0]!r}: only SELECT (or WITH ... SELECT) may run",
                         sql.find(first[0]), "an audience query only reads")
    return parts


def line_of(sql: str, offset: int) -> int:
    """1-based line of a 0-based character offset."""
    return sql.count("\n", 0, max(0, min(offset, len(sql)))) + 1
