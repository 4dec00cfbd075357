"""Render reports with the package's Jinja templates (autoescaped) and write them atomically."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from engine.delivery.model import Outcome
from engine.errors import ReportError
from engine.experiments.stats import p_text
from engine.outputs.atomic import write_atomic
from engine.report.model import HistoryPoint, ImpactHistory, Report
from engine.schedules.definition import CHANGED
from engine.templatecache import bytecode_cache

REPORT_FILE = "report.html"


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("engine.report", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=bytecode_cache("report-templates"),
    )
    env.filters["num"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    env.filters["tojson_text"] = lambda v: json.dumps(v, default=str, ensure_ascii=False)
    env.filters["pct"] = _pct
    env.filters["pct_ci"] = _pct_ci
    env.filters["pts"] = _pts
    env.filters["pts_ci"] = _pts_ci
    env.filters["pval"] = p_text
    return env


# impact's numbers as every page prints them (rates in %, uplifts in percentage points)
def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.2f} %"


def _pct_ci(interval: tuple[float, float] | None) -> str:
    return "—" if interval is None else f"{interval[0] * 100:.2f} – {interval[1] * 100:.2f} %"


def _pts(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.2f} pts"


def _pts_ci(interval: tuple[float, float] | None) -> str:
    return "—" if interval is None else f"{interval[0] * 100:+.2f} to {interval[1] * 100:+.2f} pts"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def render_report(report: Report) -> str:
    # the funnel charts are drawn by the template (funnel.svg.html): no pygal on a run's critical path
    return _env().get_template("report.html").render(report=report, generated=_now(), changed_label=CHANGED)


def render_history(name: str, points: list[HistoryPoint], impact: ImpactHistory | None = None) -> str:
    from engine.report import charts  # noqa: PLC0415

    chart = charts.history(f"{name}: last {len(points)} runs", points) if points else None
    rates = charts.conversion_rates(f"{name}: conversion rate, treated vs held out", impact) if impact else None
    return (
        _env()
        .get_template("history.html")
        .render(
            name=name,
            points=points,
            chart=chart,
            impact=impact,
            rates_chart=rates,
            outcomes=list(Outcome),
            generated=_now(),
        )
    )


def render_page(template: str, **context: Any) -> str:
    """Any other page of the package (the operator page uses this)."""
    return _env().get_template(template).render(generated=_now(), **context)


def write_html(path: Path, html: str) -> Path:
    """Write a page atomically; anything in the way (a folder named like it, a full disk) is a ReportError."""
    if path.exists() and not path.is_file():
        raise ReportError(
            f"cannot write {path}: it is a directory (or another non-file)",
            hint="move it away, then run `engine report` again",
        )
    try:
        write_atomic(path, html.encode("utf-8"))
    except OSError as err:
        raise ReportError(f"cannot write {path}: {err.strerror or type(err).__name__}") from None
    return path
