"""What the operator page shows, read from the state database (and the scheduler's status when present)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from engine.config import Settings
from engine.db import connect
from engine.errors import EngineError
from engine.report.collect import manifest_size
from engine.runs.model import Manifest, OutputStatus


@dataclass(frozen=True)
class RunRow:
    run_id: str
    audience: str
    status: str
    as_of: str
    started_at: str
    size: int | None
    files: tuple[str, ...]
    has_report: bool


@dataclass(frozen=True)
class AutomationRow:
    id: str
    audience: str
    paused: bool
    next_local: str
    next_utc: str
    current_run: str | None
    current_phase: str | None


@dataclass(frozen=True)
class OperatorView:
    automations: tuple[AutomationRow, ...]
    runs: tuple[RunRow, ...]
    problem: str | None = None


def _local(moment: datetime | None, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z") if moment else "—"


def recent_runs(conn: psycopg.Connection, limit: int = 25) -> list[RunRow]:
    rows = conn.execute(
        "SELECT id::text, audience, status, as_of, started_at, manifest, run_dir FROM engine.runs "
        "ORDER BY started_at DESC LIMIT %s", (limit,)).fetchall()
    out = []
    for run_id, audience, status, as_of, started_at, data, run_dir in rows:
        manifest = Manifest.from_json(data) if data else None
        written = tuple(o.file for o in manifest.outputs if o.status == OutputStatus.WRITTEN) if manifest else ()
        out.append(RunRow(run_id, audience, status, as_of.isoformat(), started_at.isoformat(timespec="seconds"),
                          manifest_size(manifest) if manifest else None, written, bool(run_dir and manifest)))
    return out


def automations(settings: Settings) -> list[AutomationRow]:
    """Per automation: paused, next send time, run in progress; from the scheduler's status."""
    from engine import api  # noqa: PLC0415

    status = getattr(api, "scheduler_status", None)
    if status is None:
        return []
    rows = []
    for item in status(settings):
        data: dict[str, Any] = item if isinstance(item, dict) else vars(item)
        zone = str(data.get("timezone") or settings.timezone)
        nxt = data.get("next_send_at") or data.get("next_t") or data.get("next_run")
        rows.append(AutomationRow(id=str(data.get("automation") or data.get("id")),
                                  audience=str(data.get("audience", "")), paused=bool(data.get("paused")),
                                  next_local=_local(nxt, zone), next_utc=_local(nxt, "UTC"),
                                  current_run=data.get("current_run_id"), current_phase=data.get("current_phase")))
    return rows


def operator_view(settings: Settings) -> OperatorView:
    try:
        with connect(settings.require_state_dsn(), retries=0) as conn:
            runs = recent_runs(conn)
        return OperatorView(tuple(automations(settings)), tuple(runs))
    except (psycopg.Error, EngineError) as err:
        return OperatorView((), (), f"state database unavailable: {type(err).__name__}")
