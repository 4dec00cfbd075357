"""The column names a rendered SELECT returns, read from its top-level select list.

A small tokenizer and a recursive reader, not a full SQL parser: it follows CTEs, subqueries
in FROM, ``*`` and ``alias.*`` over them, set operations (names come from the first branch)
and PostgreSQL's naming of unaliased expressions (``t.col`` -> ``col``, ``count(*)`` ->
``count``, ``x::text`` -> ``x``). When a ``*`` covers a real table it cannot know the
columns and answers ``None``: those checks then need ``engine validate --db``, which asks the
database itself. Fast (pure regex), so every query of every audience is read on each run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>(?:[EeBbXxNn]|[Uu]&)?'(?:[^']|'')*')
  | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$)
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<param>%\([^)]*\)s|\$\d+)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op>::|<=|>=|<>|!=|->>|->|\|\||[(),.;*+\-/%<>=\[\]:|&^~!@#?{}])
""", re.S | re.X)

_CLAUSE_END = {"from", "where", "group", "having", "window", "order", "limit", "offset", "union",
               "intersect", "except", "fetch", "for", "into", "qualify"}
_SET_OPS = {"union", "intersect", "except"}
_JOIN_WORDS = {"join", "inner", "left", "right", "full", "cross", "natural", "outer", "lateral"}
_NOT_ALIAS = {"end", "null", "true", "false", "zone", "unknown", "asc", "desc", "first", "last"}


@dataclass(frozen=True)
class Token:
    kind: str      # ident | qident | string | number | param | op
    text: str      # identifiers lower-cased (PostgreSQL folds them), quoted ones unquoted as written

    def is_word(self, *words: str) -> bool:
        return self.kind == "ident" and self.text in words


def tokenize(sql: str) -> list[Token]:
    """Tokens of ``sql`` without whitespace and comments; unknown characters are skipped."""
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        if kind in ("ws", "comment", None):
            continue
        text = match.group(0)
        if kind == "tag":
            kind = "dollar"
        if kind == "ident":
            text = text.lower()
        elif kind == "qident":
            text = text[1:-1].replace('""', '"')
        tokens.append(Token(kind if kind != "dollar" else "string", text))
    return tokens


class _Unknown(Exception):
    """A ``*`` over something whose columns cannot be known from the text."""


class _Reader:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self, ahead: int = 0) -> Token | None:
        j = self.i + ahead
        return self.tokens[j] if j < len(self.tokens) else None

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.is_word(*words)

    def at_op(self, op: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text == op

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def skip_group(self) -> list[Token]:
        """Consume a parenthesised group (at ``(``) and return its inner tokens."""
        start, depth = self.i, 0
        while self.i < len(self.tokens):
            token = self.take()
            if token.kind == "op" and token.text == "(":
                depth += 1
            elif token.kind == "op" and token.text == ")":
                depth -= 1
                if depth == 0:
                    return self.tokens[start + 1:self.i - 1]
        raise _Unknown("unbalanced parentheses")

    def skip_until(self, stop: set[str], *, commas: bool = False) -> list[Token]:
        """Consume tokens at depth 0 until a stop word, a closing ``)``, (a comma) or the end."""
        start = self.i
        while self.i < len(self.tokens):
            token = self.tokens[self.i]
            if token.kind == "op" and token.text == "(":
                self.skip_group()
                continue
            if token.kind == "op" and (token.text in (")", ";") or (commas and token.text == ",")):
                break
            if token.kind == "ident" and token.text in stop:
                break
            self.i += 1
        return self.tokens[start:self.i]

    # --- grammar -------------------------------------------------------------------------------
    def query(self, ctes: dict[str, list[str] | None]) -> list[str] | None:
        ctes = dict(ctes)
        if self.at_word("with"):
            self.take()
            if self.at_word("recursive"):
                self.take()
            while True:
                name = self.take().text
                declared = [t.text for t in self.skip_group() if t.kind in ("ident", "qident")] \
                    if self.at_op("(") else None
                self.take()                                     # as
                while self.at_word("not", "materialized"):
                    self.take()
                inner = _Reader(self.skip_group())
                columns = inner.query(ctes)
                ctes[name] = declared if declared is not None else columns
                if not self.at_op(","):
                    break
                self.take()
        first = self.select_core(ctes)
        while self.at_word(*_SET_OPS):
            self.take()
            if self.at_word("all", "distinct"):
                self.take()
            self.select_core(ctes)
        self.skip_until(set())
        return first

    def select_core(self, ctes: dict[str, list[str] | None]) -> list[str] | None:
        if self.at_op("("):
            return _Reader(self.skip_group()).query(ctes)
        if not self.at_word("select"):
            self.skip_until(_SET_OPS)
            return None                                         # VALUES, TABLE, ...: not read
        self.take()
        if self.at_word("all"):
            self.take()
        elif self.at_word("distinct"):
            self.take()
            if self.at_word("on"):
                self.take()
                self.skip_group()
        items: list[list[Token]] = []
        while True:
            items.append(self.skip_until(_CLAUSE_END, commas=True))
            if not self.at_op(","):
                break
            self.take()
        sources = self.from_clause(ctes) if self.at_word("from") else []
        self.skip_until(_SET_OPS)
        try:
            names: list[str] = []
            for item in items:
                names.extend(_item_names(item, sources))
            return names
        except _Unknown:
            return None

    def from_clause(self, ctes: dict[str, list[str] | None]) -> list[tuple[str, list[str] | None]]:
        self.take()                                             # from
        sources: list[tuple[str, list[str] | None]] = []
        while self.peek() is not None:
            while self.at_word(*_JOIN_WORDS):
                self.take()
            token = self.peek()
            if token is None or token.kind == "op" and token.text == ")":
                break
            sources.append(self.from_item(ctes))
            if self.at_word("on"):
                self.skip_until(_CLAUSE_END | _JOIN_WORDS, commas=True)
            elif self.at_word("using"):
                self.take()
                self.skip_group()
            if self.at_op(","):
                self.take()
            elif not self.at_word(*_JOIN_WORDS):
                break
        return sources

    def from_item(self, ctes: dict[str, list[str] | None]) -> tuple[str, list[str] | None]:
        columns: list[str] | None
        if self.at_op("("):
            columns = _Reader(self.skip_group()).query(ctes)
            name = ""
        else:
            parts = [self.take().text]
            while self.at_op("."):
                self.take()
                parts.append(self.take().text)
            name = parts[-1]
            if self.at_op("("):                                 # a set-returning function
                self.skip_group()
                columns = None
            else:
                columns = ctes.get(name) if len(parts) == 1 and name in ctes else None
        if self.at_word("as"):
            self.take()
        token = self.peek()
        if token is not None and token.kind in ("ident", "qident") and not token.is_word(
                *(_CLAUSE_END | _JOIN_WORDS | {"on", "using"})):
            name = self.take().text
            if self.at_op("("):
                columns = [t.text for t in self.skip_group() if t.kind in ("ident", "qident")]
        return name, columns


def _expand(sources: list[tuple[str, list[str] | None]], alias: str | None) -> list[str]:
    chosen = [cols for name, cols in sources if alias is None or name == alias]
    if not chosen or any(cols is None for cols in chosen):
        raise _Unknown(alias or "*")
    return [c for cols in chosen for c in (cols or [])]


def _item_names(item: list[Token], sources: list[tuple[str, list[str] | None]]) -> list[str]:
    if not item:
        return []
    last = item[-1]
    if len(item) == 1 and last.kind == "op" and last.text == "*":
        return _expand(sources, None)
    if len(item) == 3 and last.text == "*" and item[1].text == "." and item[0].kind in ("ident", "qident"):
        return _expand(sources, item[0].text)
    if len(item) >= 2 and item[-2].is_word("as") and last.kind in ("ident", "qident"):
        return [last.text]
    before = item[-2] if len(item) >= 2 else None
    if (before is not None and last.kind in ("ident", "qident") and last.text not in _NOT_ALIAS
            and (before.kind in ("ident", "qident", "string", "number") or before.text in (")", "]"))
            and not before.is_word("distinct", "not", "is", "and", "or", "else", "then", "when", "case")):
        return [last.text]                                      # implicit alias: expr name
    return [_expression_name(item)]


def _expression_name(item: list[Token]) -> str:
    """PostgreSQL's name for an unaliased select-list expression (the common cases)."""
    cast = next((k for k, t in enumerate(item) if t.kind == "op" and t.text == "::"), None)
    head = item[:cast] if cast is not None else item
    if all(t.kind in ("ident", "qident") or t.text == "." for t in head) and head[-1].kind != "op":
        return head[-1].text
    if head[0].is_word("case"):
        return "case"
    if len(head) >= 2 and head[0].kind == "ident" and head[1].text == "(":
        return head[0].text
    if cast is not None and cast + 1 < len(item):
        return item[cast + 1].text
    return "?column?"


def infer_columns(sql: str) -> tuple[str, ...] | None:
    """The output column names of ``sql`` (a SELECT), or None when they cannot be read from the text."""
    try:
        reader = _Reader(tokenize(sql))
        if not (reader.at_word("select", "with") or reader.at_op("(")):
            return None
        columns = reader.query({})
    except (_Unknown, IndexError):
        return None
    return tuple(columns) if columns is not None else None
