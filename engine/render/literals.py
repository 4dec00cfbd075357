"""Rendered SQL with its bound values written in as SQL literals, for `engine compile` (paste into psql).

Only for reading: runs always bind values as parameters. psycopg's ``sql.Literal`` does the
quoting (strings doubled, timestamps cast, lists as array literals), so the text is what
PostgreSQL would have received for those values.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from psycopg import sql

_MARK = re.compile(r"%%|%\((\w+)\)s")


def literal(value: Any) -> str:
    """One value as a PostgreSQL literal (``'2026-11-23 12:00:00+00:00'::timestamptz``, ``'{a,b}'``)."""
    return sql.Literal(value).as_string(None)


def inline(text: str, params: Mapping[str, Any]) -> str:
    """``text`` with each ``%(name)s`` replaced by the literal of ``params[name]`` and ``%%`` by ``%``."""
    return _MARK.sub(lambda m: "%" if m.group(0) == "%%" else literal(params[m.group(1)]), text)
