"""``engine scheduler``: the long-lived worker that runs schedules.yaml's automations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import click

from engine.cli.common import CliContext, handle_errors, pass_cli
from engine.config import Settings
from engine.errors import ConfigError, ScheduleError

if TYPE_CHECKING:
    from engine.web.server import RunningServer


@click.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Phase jobs this replica runs at once.",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between this worker's heartbeats.",
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(min=0.5),
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat after which a worker counts as dead and its phase is handed to another replica.",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="On SIGTERM, wait this long for the phase in progress, then hand it back (default: let it finish).",
)
@click.option("--name", default=None, help="Worker name in logs and phase records (default host-pid).")
@click.option(
    "--serve-port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Also serve the operator page, /metrics and /readyz (this worker alive) on this port "
    "(0: a free one). Default: scheduler_serve_port / ENGINE_SCHEDULER_SERVE_PORT; unset: no "
    "page, so several replicas on one host never clash.",
)
@pass_cli
@handle_errors
def scheduler(
    obj: CliContext,
    concurrency: int,
    heartbeat: float,
    stalled_after: float,
    shutdown_timeout: float | None,
    name: str | None,
    serve_port: int | None,
) -> None:
    """Run automations: plan due runs and execute their phases until SIGTERM.

    Every automation run (automation, send time T) executes exactly once however many
    replicas run against the same state database (ENGINE_STATE_DSN, after `engine
    migrate`). Phases: generate at T-lead.generate, TEST send at T-lead.test,
    cancellation window, live send at T-0, cleanup. A replica that dies mid-phase is
    replaced by another after --stalled-after seconds. Needs ENGINE_SOURCE_DSN and, to
    send, ENGINE_FCM_CREDENTIALS.
    """
    from engine.automations.queue_schema import require_scheduler_state  # noqa: PLC0415
    from engine.scheduler.runner import Liveness, WorkerOptions, serve  # noqa: PLC0415

    settings = obj.settings(scheduler_serve_port=serve_port)
    _require_schedules(settings)  # a bad cron or time zone: a configuration error (exit 2), at start
    require_scheduler_state(settings)  # not migrated: say `engine migrate` before anything starts
    liveness = Liveness(within_s=stalled_after)
    page = _operator_page(settings, liveness) if settings.scheduler_serve_port is not None else None
    try:
        serve(
            settings,
            WorkerOptions(
                concurrency=concurrency,
                heartbeat_s=heartbeat,
                stalled_after_s=stalled_after,
                shutdown_timeout_s=shutdown_timeout,
                name=name,
            ),
            liveness,
        )
    finally:
        if page:
            page.stop()


def _require_schedules(settings: Settings) -> None:
    from engine.schedules.loader import load_schedules  # noqa: PLC0415

    try:
        load_schedules(settings.project_dir)
    except ScheduleError as err:
        raise ConfigError(err.message, location=err.location, hint=err.hint) from None


def _operator_page(settings: Settings, worker_alive: Callable[[], bool]) -> RunningServer:
    """The operator page in a thread of this replica; a port already taken is a config error (exit 2)."""
    from engine.web.server import start_in_thread  # noqa: PLC0415

    try:
        return start_in_thread(settings, port=settings.scheduler_serve_port, worker_alive=worker_alive)
    except OSError as err:
        raise ConfigError(
            f"cannot serve the operator page on {settings.serve_host}:{settings.scheduler_serve_port}:"
            f" {err.strerror or err}",
            hint="pick a free --serve-port (ENGINE_SCHEDULER_SERVE_PORT), 0 for any, or leave it "
            "unset on the other replicas of this host",
        ) from None


COMMANDS = [scheduler]
