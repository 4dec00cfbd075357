"""The rendered-SQL lexer: where literals and comments start and end, and which shapes it refuses."""

from __future__ import annotations

import pytest

from engine.sqltext import ShapeError, check_one_statement

CODE, TEXT, QUOTED, DOLLAR, COMMENT = "code", "a string literal", "a quoted identifier", "a dollar-quoted string", \
    "a comment"


@pytest.mark.parametrize(("sql", "expected"), [
    ("select 'a''b' -- c\n, \"x\" /* d /* e */ f */ from t",
     [(0, 7, CODE), (7, 13, TEXT), (13, 14, CODE), (14, 18, COMMENT), (18, 21, CODE), (21, 24, QUOTED),
      (24, 25, CODE), (25, 42, COMMENT), (42, 49, CODE)]),
    # `a$1$` is an identifier (a `$` after a name character opens nothing); `$q$` and `$$` do open
    ("select a$1$ , $q$ it's ) $q$, $$ x $$ from t",
     [(0, 14, CODE), (14, 28, DOLLAR), (28, 30, CODE), (30, 37, DOLLAR), (37, 44, CODE)]),
    ("select e'\\'' || 'x' from t", [(0, 8, CODE), (8, 12, TEXT), (12, 16, CODE), (16, 19, TEXT), (19, 26, CODE)]),
    ("select '(' as p, ')' from t -- )",
     [(0, 7, CODE), (7, 10, TEXT), (10, 17, CODE), (17, 20, TEXT), (20, 28, CODE), (28, 32, COMMENT)]),
])
def test_spans_of_one_statement(sql: str, expected: list[tuple[int, int, str]]) -> None:
    assert [(s.start, s.end, s.kind) for s in check_one_statement(sql)] == expected


@pytest.mark.parametrize(("sql", "message", "offset"), [
    ("select (1 from t", "1 parenthesis(es) never closed", 16),
    ("select 1) from t", "')' closes a parenthesis it never opened", 8),
    ("select 1; select 2", "more than one statement: ';' outside a string or comment", 8),
    ("select 'unclosed", "a string literal is never closed", 7),
    ("select '%(p)s'", "bound parameter 'p' is inside a string literal", 8),
    ("select 1 /* never", "a /* comment is never closed", 9),
    ("delete from t", "the query starts with 'delete': only SELECT (or WITH ... SELECT) may run", 0),
])
def test_refused_shapes_say_where(sql: str, message: str, offset: int) -> None:
    with pytest.raises(ShapeError) as caught:
        check_one_statement(sql)
    assert (caught.value.message, caught.value.offset) == (message, offset)
