"""Device tokens: ``sql/tokens/latest_device_token.sql`` run read-only on the source database, in bulk."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import psycopg

from engine.db import SourcePool, translate_query_error
from engine.errors import ConfigError
from engine.render.env import make_environment, render_sql

TOKEN_SQL = "tokens/latest_device_token.sql"
_CHUNK = 50_000  # ids per statement: one round trip for any audience the original ever sent


def lookup_tokens(pool: SourcePool, sql_root: Path, user_ids: Sequence[str]) -> dict[str, str]:
    """user id -> the token of their most recently updated device; users without one are absent."""
    if not (sql_root / TOKEN_SQL).exists():
        raise ConfigError(
            f"token lookup SQL not found: {sql_root / TOKEN_SQL}",
            hint="the project's sql/ folder must hold tokens/latest_device_token.sql",
        )
    env = make_environment(sql_root)
    tokens: dict[str, str] = {}
    with pool.connection() as conn:
        for start in range(0, len(user_ids), _CHUNK):
            rendered = render_sql(
                env,
                sql_root,
                name="latest_device_token",
                template=TOKEN_SQL,
                values={"user_ids": list(user_ids[start : start + _CHUNK])},
            )
            try:
                # never prepared: psycopg prepares a statement run 5 times, and PostgreSQL's generic plan for it
                # reads `= any($1)` element by element (no hashed array), 85 s a chunk at 1M users instead of 0.5 s
                tokens.update(conn.execute(rendered.sql, rendered.params, prepare=False).fetchall())
            except psycopg.Error as err:
                raise translate_query_error(err, what=f"token lookup ({rendered.origin})", dsn=pool.dsn) from None
        conn.rollback()  # end the read-only transaction before the connection goes back
    return tokens
