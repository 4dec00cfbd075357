"""Conversions: ``sql/conversions/<name>.sql``, Jinja SQL giving (user_id, converted_at) from the app database.

A conversion query is audience SQL in every respect: rendered in the same sandbox, its two values
(``window_start``, ``window_end``: the bounds of what is asked, timestamptz) bound on the server and never
written into the text, checked by ``engine.pgquery`` (one SELECT, no refused function) and run inside the
source pool's read-only snapshot (``engine.sources.query.fetch_arrow``). It returns every conversion in
``(window_start, window_end]``; which of them count for a push is decided by the measurement.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa

from engine.db import SourcePool
from engine.errors import ConfigError, QueryError
from engine.render.env import make_environment, render_sql
from engine.render.locate import locator
from engine.render.model import RenderedQuery
from engine.sources.query import fetch_arrow

CONVERSIONS_DIR = "conversions"  # under sql/
VALUES = ("window_start", "window_end")  # what a conversion's SQL may use (bound values)
COLUMNS = ("user_id", "converted_at")


def conversion_template(name: str) -> str:
    """The template path (under sql/) of conversion ``name``."""
    return f"{CONVERSIONS_DIR}/{name}.sql"


def known_conversions(sql_root: Path) -> list[str]:
    """The conversions the project declares SQL for (file names without .sql)."""
    folder = sql_root / CONVERSIONS_DIR
    return sorted(p.stem for p in folder.glob("*.sql") if p.is_file()) if folder.is_dir() else []


def render_conversion(sql_root: Path, name: str, window_start: datetime, window_end: datetime) -> RenderedQuery:
    """The conversion's query rendered with its window bound (a RenderError names the .sql line)."""
    if not (sql_root / conversion_template(name)).is_file():
        known = ", ".join(known_conversions(sql_root)) or "none"
        raise ConfigError(
            f"conversion SQL not found: sql/{conversion_template(name)}",
            hint=f"write it (SELECT user_id, converted_at ... between {{{{ window_start }}}} and "
            f"{{{{ window_end }}}}); known conversions: {known}",
        )
    return render_sql(
        make_environment(sql_root),
        sql_root,
        name=f"conversion {name}",
        template=conversion_template(name),
        values={"window_start": window_start, "window_end": window_end},
    )


def fetch_conversions(
    pool: SourcePool, sql_root: Path, name: str, window_start: datetime, window_end: datetime
) -> pa.Table:
    """Every conversion ``name`` in (window_start, window_end]: an Arrow table of (user_id, converted_at) as text
    (the measurement types them in DuckDB)."""
    rendered = render_conversion(sql_root, name, window_start, window_end)
    with pool.connection() as conn:
        table, _ = fetch_arrow(conn, rendered, locator(sql_root))
        conn.rollback()  # end the read-only transaction before the connection goes back
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise QueryError(
            f"conversion {name!r} ({rendered.origin}) returns no column {', '.join(missing)}",
            hint="a conversion query returns user_id and converted_at (alias them with `as`)",
        )
    return table.select(list(COLUMNS)).cast(pa.schema([(c, pa.string()) for c in COLUMNS]))
