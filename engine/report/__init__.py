"""Run reports: one self-contained HTML file next to each run's manifest, and a history page.

``after_run`` and ``after_send`` are what ``engine.api`` calls when a run or a send ends;
they never raise for a report problem (a run is not failed by its report), they log it.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import psycopg

from engine.config import Settings
from engine.errors import ConfigError, EngineError, StateError
from engine.observe import hooks
from engine.outputs.names import under_root
from engine.report.automation import automation_history
from engine.report.collect import collect, live_outcomes, load_sends, manifest_size
from engine.report.impact import impact_history
from engine.report.model import HistoryPoint, ImpactHistory
from engine.report.render import REPORT_FILE, render_history, render_report, write_html
from engine.runs.model import RunResult
from engine.state import automation_runs, runs
from engine.state.connection import state_connection

log = logging.getLogger("engine.report")

HISTORY_FILE = "history.html"
_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def build_report(settings: Settings, run_dir: Path) -> Path:
    """Render (again) the report of the run in ``run_dir``; returns its path."""
    html = render_report(collect(settings, run_dir))
    return write_html(run_dir / REPORT_FILE, html)


def write_report(settings: Settings, run_dir: Path | None) -> Path | None:
    """Like ``build_report`` for callers that must not fail because of it (run and send ends)."""
    if run_dir is None or not (run_dir / "manifest.json").exists():
        return None
    try:
        path = build_report(settings, run_dir)
    except (OSError, ValueError, KeyError, EngineError, psycopg.Error) as err:
        log.error("report not written: %s", err, extra={"run_dir": str(run_dir)})
        return None
    log.info("report written", extra={"report": str(path)})
    return path


def after_run(settings: Settings, result: RunResult, *, automation: str | None = None) -> Path | None:
    """The one call at the end of a run: metrics, log event and alerts, then the run's report."""
    hooks.run_finished(settings, result, automation=automation)
    return write_report(settings, result.run_dir)


def after_send(settings: Settings, source: str) -> Path | None:
    """After a send from a run folder (``source``: its CSV, or the folder when the output was empty)."""
    path = Path(source)
    return write_report(settings, path if path.is_dir() else path.parent)


def after_automation_run(settings: Settings, run_id: str) -> Path | None:
    """An automation run reached its last phase (cleaned, cancelled, failed...): its users by outcome in the
    metrics, and its report says so."""
    with state_connection(settings) as conn:
        run = automation_runs.get_run(conn, run_id)
    if run and run.outcomes:
        hooks.automation_run_finished(run.automation_id, run.outcomes.as_dict())
    return write_report(settings, Path(run.run_dir)) if run and run.run_dir else None


def find_run_dir(settings: Settings, run_id: str) -> Path:
    """The run folder of ``run_id`` (a full id or its first 8+ characters): state database, else output dir."""
    if not _RUN_ID.fullmatch(run_id):  # it becomes part of a glob under the output root
        raise ConfigError(
            f"{run_id[:80]!r} is not a run id", hint="give the run id printed by `engine run` (at least 8 characters)"
        )
    if settings.state_dsn and len(run_id) == 36:
        with state_connection(settings, retries=0) as conn:
            recorded = runs.get_run(conn, run_id)
        if recorded and recorded.run_dir and (Path(recorded.run_dir) / "manifest.json").exists():
            return Path(recorded.run_dir)
    prefix = run_id[:8]
    found = sorted(settings.resolved_output_dir.glob(f"*/*_{prefix}/manifest.json"))
    if len(run_id) < 8 or not found:
        raise StateError(
            f"no run folder found for run {run_id!r} under {settings.resolved_output_dir}",
            hint="give the run id printed by `engine run` (at least 8 characters)",
        )
    return found[0].parent


def history_points(settings: Settings, name: str, *, limit: int = 20) -> list[HistoryPoint]:
    """The last ``limit`` runs of an automation (by id) or else an audience, oldest first, with live sends."""
    with state_connection(settings) as conn:
        by_automation = automation_history(conn, name, limit)
        if by_automation is not None:
            return by_automation
        runs.abandon_dead_runs(conn)  # a run whose process died reads abandoned now, not at the next run
        points = []
        for run in reversed(runs.audience_runs(conn, name, limit)):
            live = [s for _, s in load_sends(conn, run.id) if s.mode == "live"]
            report = Path(run.run_dir) / REPORT_FILE if run.run_dir else None
            points.append(
                HistoryPoint(
                    run_id=run.id,
                    as_of=run.as_of.isoformat(),
                    status=run.status.value,
                    size=manifest_size(run.manifest) if run.manifest else 0,
                    outcomes=live_outcomes(live),
                    report=str(report) if report and report.exists() else None,
                )
            )
    return points


def write_history(settings: Settings, name: str, *, limit: int = 20) -> Path:
    """Write ``<output>/<name>/history.html`` charting the last runs of an automation or audience."""
    folder = under_root(settings.resolved_output_dir, name, what="--history")
    points = [
        p if p.report is None else replace(p, report=os.path.relpath(p.report, folder))
        for p in history_points(settings, name, limit=limit)
    ]
    impact = _impact_history(settings, name, points)
    folder.mkdir(parents=True, exist_ok=True)
    return write_html(folder / HISTORY_FILE, render_history(name, points, impact))


def _impact_history(settings: Settings, name: str, points: list[HistoryPoint]) -> ImpactHistory | None:
    """An automation's measured runs over the history's span (None: ``name`` is an audience, or no run)."""
    if not points:
        return None
    with state_connection(settings) as conn:
        if not automation_runs.recent_runs(conn, name, 1):
            return None
        return impact_history(conn, name, since=datetime.fromisoformat(points[0].as_of))
