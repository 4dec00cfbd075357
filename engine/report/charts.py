"""The history chart as inline SVG drawn server-side by pygal: no browser-side script, CDN or font to fetch.

Run funnels are drawn by a template (``templates/funnel.svg.html``): they are on every run's path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Sequence

import pygal
from markupsafe import Markup
from pygal.style import Style

from engine.delivery.model import Outcome
from engine.report.model import HistoryPoint, ImpactHistory

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    font_family="sans-serif",
    colors=("#3b6ea5", "#2e8b57", "#c0392b", "#8e44ad", "#7f8c8d"),
    label_font_size=12,
    major_label_font_size=12,
    value_font_size=11,
    legend_font_size=12,
    title_font_size=14,
)
# js=[]: pygal would otherwise link its tooltip script from a CDN
_COMMON = {
    "js": [],
    "disable_xml_declaration": True,
    "style": _STYLE,
    "print_values": True,
    "explicit_size": False,
    "width": 820,
}


def _svg(chart: pygal.graph.graph.Graph) -> Markup:
    return Markup(chart.render(is_unicode=True))  # pygal writes through etree: labels are escaped


def _over_time(title: str, value_formatter: Callable[[float], str]) -> pygal.DateTimeLine:
    """A line chart over the runs' times; a missing value is a gap, not a line to the next."""
    return pygal.DateTimeLine(
        title=title,
        height=360,
        x_label_rotation=30,
        allow_interruptions=True,
        x_value_formatter=lambda at: at.strftime("%Y-%m-%d %H:%M"),
        value_formatter=value_formatter,
        **_COMMON,
    )


def history(title: str, points: Sequence[HistoryPoint]) -> Markup:
    """Audience size and each outcome per run on a time axis, oldest first; a run that sent nothing is a gap."""
    chart = _over_time(title, lambda v: f"{v:,.0f}")
    at = [datetime.fromisoformat(p.as_of) for p in points]
    chart.add("audience size", list(zip(at, (p.size for p in points))))
    for outcome in (Outcome.SENT, Outcome.FAILED, Outcome.IN_DOUBT, Outcome.HELD_OUT):
        chart.add(outcome.label, [(t, _count(p, outcome)) for t, p in zip(at, points)])
    return _svg(chart)


def conversion_rates(title: str, impact: ImpactHistory) -> Markup | None:
    """Per conversion, the treated and the held-out conversion rate (%) of each measured run; None: no run
    measured with its window closed yet."""
    if not impact.runs:
        return None
    chart = _over_time(title, lambda v: f"{v:.2f} %")
    for conversion in impact.conversions:
        runs = [r for r in impact.runs if r.conversion == conversion]
        for arm, rate in (("treated", "treated_rate"), ("held out", "held_out_rate")):
            values = [(r.send_at, _percent(getattr(r.comparison, rate))) for r in runs]
            chart.add(f"{conversion}: {arm}", values)
    return _svg(chart)


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _count(point: HistoryPoint, outcome: Outcome) -> int | None:
    """None (a gap) for a run that sent nothing: never run, skipped, failed before its send, or cancelled."""
    if point.outcomes is None or point.outcomes.cancelled:
        return None
    return point.outcomes.count(outcome)
