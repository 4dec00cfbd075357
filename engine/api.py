"""Library entry points. The CLI, the demo, the benchmarks and the scheduler call these."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from engine.config import Settings
from engine.db import connect
from engine.state.migrate import current_version, migrate


def migrate_state(settings: Settings) -> tuple[list[str], int]:
    """Apply pending state migrations; return (applied names, current version)."""
    with connect(settings.require_state_dsn(), retries=settings.connect_retries) as conn:
        applied = migrate(conn)
        return [f"{m.version:04d}_{m.name}" for m in applied], current_version(conn)


def seed_app_database(settings: Settings, *, users: int, seed: int, as_of: datetime,
                      replace: bool = False) -> dict[str, Any]:
    """Create the app schema in the source DSN's database and fill it with synthetic data."""
    from engine.appdb.seed import seed_database  # noqa: PLC0415  (heavy SQL loaded on demand)

    started = time.perf_counter()
    with connect(settings.require_source_dsn(), retries=settings.connect_retries,
                 statement_timeout_s=0) as conn:
        counts = seed_database(conn, users=users, seed=seed, as_of=as_of, replace=replace)
    return {"users": users, "seed": seed, "as_of": as_of.isoformat(),
            "seconds": time.perf_counter() - started, "counts": counts}
