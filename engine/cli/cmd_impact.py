"""``engine impact``: did an automation's pushes change what its users do? Treated against held out."""

from __future__ import annotations

import re
import sys
from datetime import datetime, timedelta

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli
from engine.experiments.stats import p_text

_AGO = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_since(text: str, now: datetime) -> datetime:
    """``30d`` / ``12h`` / ``90m`` before ``now``, or an ISO 8601 date or time (UTC when it names no zone)."""
    from engine.errors import ConfigError  # noqa: PLC0415
    from engine.timeutil import parse_as_of  # noqa: PLC0415

    match = _AGO.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        return parse_as_of(text)
    except ConfigError:
        raise ConfigError(
            f"invalid --since {text!r}", hint="a span before now (30d, 12h, 90m) or an ISO 8601 time"
        ) from None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def _span(interval: tuple[float, float] | None, *, points: bool = True) -> str:
    if interval is None:
        return "-"
    unit = " pt" if points else "%"
    return f"[{interval[0] * 100:+.2f}, {interval[1] * 100:+.2f}]{unit}"


@click.command()
@click.argument("automation")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    help="Runs whose send time is at or after this: a span before now (30d, 12h) or an ISO 8601 time.",
)
@pass_cli
@handle_errors
def impact(obj: CliContext, automation: str, since: str) -> None:
    """Measure AUTOMATION's live sends against its holdout group, for each conversion it declares.

    Treated users (pushed) count from when their push was sent, held-out users from when the live
    send began; a user converts when sql/conversions/<name>.sql gives them a row within the
    conversion's `within` after that. Per run, push and variant: both arms' conversion rates (95 %
    Wilson intervals), the uplift in points (Newcombe interval) and relative, the p-value and a
    verdict; then the sum over all runs (labelled: users reached by several runs count in each).
    The counts are stored (engine.impact) for the run report and the operator page.

    Exit codes: 0 measured, 2 unknown automation or no conversions declared, 3 database unreachable.
    """
    from engine import api  # noqa: PLC0415
    from engine.timeutil import utcnow  # noqa: PLC0415

    now = utcnow()
    start = parse_since(since, now)
    report = api.impact(obj.settings(), automation, since=start, now=now)
    if obj.json_output:
        emit_json({"ok": True, **report.as_dict()})
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)  # piped: no 80-column wrap
    console.print(
        f"[bold]{report.automation_id}[/bold]: runs since {start:%Y-%m-%d %H:%M} UTC, "
        f"conversions: {', '.join(report.conversions)}"
    )
    if not report.runs:
        console.print("no live send in that span: nothing measured yet")
        return
    for title, rows in (("per run", report.runs), ("all runs (summed: users repeat across runs)", report.totals)):
        table = Table(title=title, title_justify="left", show_lines=False)
        for column in ("run", "push", "conversion", "treated", "held out", "uplift (95% CI)", "rel.", "p", "window"):
            table.add_column(column, justify="right" if column in {"treated", "held out", "rel.", "p"} else "left")
        for row in rows:
            c = row.comparison
            table.add_row(
                row.run_id[:8] if row.send_at else row.run_id,
                row.push + (f" / {row.variant}" if row.variant else ""),
                row.conversion,
                f"{c.treated_converted:,}/{c.treated:,} {_pct(c.treated_rate)}",
                f"{c.held_out_converted:,}/{c.held_out:,} {_pct(c.held_out_rate)}",
                "-" if c.uplift is None else f"{c.uplift * 100:+.2f} pt {_span(c.uplift_ci)}",
                "-" if c.relative_uplift is None else f"{c.relative_uplift * 100:+.1f}%",
                p_text(c.p_value),
                "closed" if row.window_closed else "open",
            )
        console.print(table)
        for row in rows:
            if not row.variant:
                console.print(f"  {row.run_id[:8]} {row.push} {row.conversion}: {row.comparison.verdict}")


COMMANDS = [impact]
