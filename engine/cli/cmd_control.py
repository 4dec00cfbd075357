"""``engine pause|resume|cancel|trigger``: persisted controls the scheduler reads at every phase."""

from __future__ import annotations

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli


def _report(obj: CliContext, result: "object") -> None:
    from dataclasses import asdict  # noqa: PLC0415

    if obj.json_output:
        emit_json({"ok": True, **asdict(result)})  # type: ignore[call-overload]
    else:
        click.echo(result.message)  # type: ignore[attr-defined]


@click.command()
@click.argument("automation")
@click.option("--reason", default=None, help="Why (shown by `engine status`).")
@pass_cli
@handle_errors
def pause(obj: CliContext, automation: str, reason: str | None) -> None:
    """Pause AUTOMATION: its runs are skipped from their next phase on (a live send in progress finishes)."""
    from engine import api  # noqa: PLC0415

    _report(obj, api.pause_automation(obj.settings(), automation, reason=reason))


@click.command()
@click.argument("automation")
@pass_cli
@handle_errors
def resume(obj: CliContext, automation: str) -> None:
    """Resume a paused AUTOMATION: runs fire again from the next send time."""
    from engine import api  # noqa: PLC0415

    _report(obj, api.resume_automation(obj.settings(), automation))


@click.command()
@click.argument("run_id")
@click.option("--reason", default=None, help="Why (recorded with the run).")
@pass_cli
@handle_errors
def cancel(obj: CliContext, run_id: str, reason: str | None) -> None:
    """Cancel automation run RUN_ID until its live send starts; refused after (exit 1).

    RUN_ID is the id `engine status` prints or its first 8 characters or more (as the operator page shows
    it); a prefix several runs share exits 2 listing them. The run's queued jobs are cancelled with it.
    """
    from engine import api  # noqa: PLC0415

    _report(obj, api.cancel_run(obj.settings(), run_id, reason=reason))


@click.command()
@click.argument("automation")
@click.option("--test", is_flag=True, help="The live phase sends to the test users only.")
@click.option("--at", "at", default=None, help="Send time T (ISO 8601, naive = UTC; default: now + the generate lead).")
@pass_cli
@handle_errors
def trigger(obj: CliContext, automation: str, test: bool, at: str | None) -> None:
    """Record an ad hoc run of AUTOMATION; a running `engine scheduler` executes its phases."""
    from engine import api  # noqa: PLC0415
    from engine.timeutil import parse_as_of  # noqa: PLC0415

    _report(obj, api.trigger_automation(obj.settings(), automation, test=test, at=parse_as_of(at) if at else None))


COMMANDS = [pause, resume, cancel, trigger]
