"""Render reports with the package's Jinja templates (autoescaped) and write them atomically."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, select_autoescape
from jinja2.bccache import Bucket

from engine.outputs.atomic import write_atomic
from engine.report.model import HistoryPoint, Report

REPORT_FILE = "report.html"


class _QuietCache(FileSystemBytecodeCache):
    """Compiled templates kept between processes (each ``engine run`` is a new one: compiling the
    report's templates took ~0.1 s of every run); a cache that cannot be read or written is skipped."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError):
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "audience-engine" / "report-templates"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return _QuietCache(str(folder))


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=PackageLoader("engine.report", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, bytecode_cache=_bytecode_cache())
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    env.filters["tojson_text"] = lambda v: json.dumps(v, default=str, ensure_ascii=False)
    return env


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def render_report(report: Report) -> str:
    # the funnel charts are drawn by the template (funnel.svg.html): no pygal on a run's critical path
    return _env().get_template("report.html").render(report=report, generated=_now())


def render_history(name: str, points: list[HistoryPoint]) -> str:
    from engine.report import charts  # noqa: PLC0415

    chart = charts.history(f"{name}: last {len(points)} runs", points) if points else None
    return _env().get_template("history.html").render(name=name, points=points, chart=chart, generated=_now())


def render_page(template: str, **context: Any) -> str:
    """Any other page of the package (the operator page uses this)."""
    return _env().get_template(template).render(generated=_now(), **context)


def write_html(path: Path, html: str) -> Path:
    write_atomic(path, html.encode("utf-8"))
    return path
