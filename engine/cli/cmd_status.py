"""``engine status`` and ``engine plan``: what the scheduler holds, and what will fire."""

from __future__ import annotations

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli
from engine.errors import DatabaseUnavailable
from engine.schedules.definition import CHANGED


@click.command()
@pass_cli
@handle_errors
def status(obj: CliContext) -> None:
    """Per automation: paused or not, next send time (local and UTC), the run in progress, the last runs."""
    from engine import api  # noqa: PLC0415

    try:
        broken = api.config_error(obj.settings())
    except DatabaseUnavailable:
        broken = None  # scheduler_status says what is wrong: a broken local schedules.yaml first, then the database
    config_error = (
        f"{broken.message} (since {broken.since:%Y-%m-%d %H:%M:%S %Z}, seen by {broken.worker})" if broken else None
    )
    if config_error and not obj.json_output:  # first: a broken local schedules.yaml stops the rest
        click.secho(f"config_error: {config_error}; the scheduler runs the last good definition", fg="red")
    result = api.scheduler_status(obj.settings())
    if obj.json_output:
        emit_json(
            {
                "ok": True,
                "now": result.now.isoformat(),
                "config_error": config_error,
                "automations": [
                    {
                        "automation": a.automation_id,
                        "enabled": a.enabled,
                        "paused": a.paused,
                        "pause_reason": a.pause_reason,
                        "timezone": a.timezone,
                        "next_send_at": a.next_send_at.isoformat() if a.next_send_at else None,
                        "next_send_local": a.next_send_local.isoformat() if a.next_send_local else None,
                        "in_progress": a.in_progress.as_dict() if a.in_progress else None,
                        "definition_changed": list(a.changed_since_generate),
                        "recent": [r.as_dict() for r in a.recent],
                        "triggered": [r.as_dict() for r in a.triggered],
                    }
                    for a in result.automations
                ],
            }
        )
        return
    for a in result.automations:
        state = (
            "disabled"
            if not a.enabled
            else ("PAUSED" + (f" ({a.pause_reason})" if a.pause_reason else "") if a.paused else "active")
        )
        nxt = (
            f"{a.next_send_local:%Y-%m-%d %H:%M %Z} ({a.next_send_at:%H:%M} UTC)"
            if a.next_send_at and a.next_send_local
            else "-"
        )
        click.secho(f"{a.automation_id}: {state}; next send {nxt}", bold=True)
        if a.in_progress:
            click.echo(
                f"  in progress: {a.in_progress.id} {a.in_progress.status.value} "
                f"(T {a.in_progress.send_at:%Y-%m-%d %H:%M:%S} UTC)"
            )
        if a.changed_since_generate:
            click.secho(f"  {CHANGED} (this run sends what it froze; the edit applies from the next run):", fg="yellow")
            for line in a.changed_since_generate:
                click.echo(f"    {line}")
        for r in a.triggered:
            click.echo(f"  triggered: {r.id} (T {r.send_at:%Y-%m-%d %H:%M:%S} UTC)")
        for r in a.recent:
            outcomes = f"  {r.outcomes.summary()}" if r.outcomes else ""
            click.echo(
                f"  {r.send_at:%Y-%m-%d %H:%M:%S} UTC  {r.status.value:<9} audience={r.audience_size or 0}"
                f"{outcomes}  {r.id}" + (f"  {r.reason}" if r.reason else "")
            )


@click.command()
@click.option(
    "--days", type=click.IntRange(min=1, max=366), default=1, show_default=True, help="How far ahead to look."
)
@pass_cli
@handle_errors
def plan(obj: CliContext, days: int) -> None:
    """Every automation run due in the next DAYS days: phase times, last audience size, expected cadence
    exclusions (from history), projected live-send duration at ENGINE_FCM_RATE_PER_MINUTE.

    (The rendered SQL of one audience is `engine compile NAME`.)
    """
    from engine import api  # noqa: PLC0415

    runs = api.plan_runs(obj.settings(), days=days)
    if obj.json_output:
        emit_json({"ok": True, "days": days, "runs": [r.as_dict() for r in runs]})
        return
    if not runs:
        click.echo(f"nothing fires in the next {days} day(s)")
    for r in runs:
        line = r.timeline
        local = r.as_dict()["send_at_local"]
        click.secho(
            f"{r.automation_id}  T {line.send_at:%Y-%m-%d %H:%M:%S} UTC ({local})"
            + (f"  triggered run {r.run_id}" if r.run_id else "")
            + ("  PAUSED: will be skipped" if r.paused else ""),
            bold=True,
        )
        click.echo(
            f"  generate {line.generate_at:%H:%M:%S}  TEST {line.test_at:%H:%M:%S}  "
            f"window {line.window_opens_at:%H:%M:%S}  live {line.send_at:%H:%M:%S} (UTC)"
        )
        size, excluded, seconds = (
            ("unknown" if v is None else v)
            for v in (r.last_audience_size, r.expected_cadence_excluded, r.projected_send_seconds)
        )
        click.echo(f"  last audience {size}, expected cadence exclusions {excluded}, projected live send {seconds} s")


COMMANDS = [status, plan]
