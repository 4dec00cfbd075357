"""``engine scheduler``: the long-lived worker that runs schedules.yaml's automations."""

from __future__ import annotations

import click

from engine.cli.common import CliContext, handle_errors, pass_cli


@click.command()
@click.option("--concurrency", type=click.IntRange(min=1), default=2, show_default=True,
              help="Phase jobs this replica runs at once.")
@click.option("--heartbeat", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds between this worker's heartbeats.")
@click.option("--stalled-after", type=click.FloatRange(min=0.5), default=30.0, show_default=True,
              help="Seconds without a heartbeat after which a worker counts as dead and its phase is handed "
                   "to another replica.")
@click.option("--shutdown-timeout", type=click.FloatRange(min=0), default=None,
              help="On SIGTERM, wait this long for the phase in progress, then hand it back "
                   "(default: let it finish).")
@click.option("--name", default=None, help="Worker name in logs and phase records (default host-pid).")
@pass_cli
@handle_errors
def scheduler(obj: CliContext, concurrency: int, heartbeat: float, stalled_after: float,
              shutdown_timeout: float | None, name: str | None) -> None:
    """Run automations: plan due runs and execute their phases until SIGTERM.

    Every automation run (automation, send time T) executes exactly once however many
    replicas run against the same state database (ENGINE_STATE_DSN, after `engine
    migrate`). Phases: generate at T-lead.generate, TEST send at T-lead.test,
    cancellation window, live send at T-0, cleanup. A replica that dies mid-phase is
    replaced by another after --stalled-after seconds. Needs ENGINE_SOURCE_DSN and, to
    send, ENGINE_FCM_CREDENTIALS.
    """
    from engine.scheduler.runner import WorkerOptions, serve  # noqa: PLC0415

    settings = obj.settings()
    settings.require_state_dsn()
    serve(settings, WorkerOptions(concurrency=concurrency, heartbeat_s=heartbeat, stalled_after_s=stalled_after,
                                  shutdown_timeout_s=shutdown_timeout, name=name))


COMMANDS = [scheduler]
