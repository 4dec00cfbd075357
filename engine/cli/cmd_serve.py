"""``engine serve``: the read-only operator page, metrics and health, without running any job."""

from __future__ import annotations

import click

from engine.cli.common import CliContext, handle_errors, pass_cli
from engine.errors import ConfigError


@click.command()
@click.option("--host", default=None, help="Address to bind (default: serve_host, 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=None,
    help="Port (default: serve_port / ENGINE_SERVE_PORT, 8765; 0 picks a free one).",
)
@pass_cli
@handle_errors
def serve(obj: CliContext, host: str | None, port: int | None) -> None:
    """Serve the operator page until Ctrl-C or SIGTERM.

    Shows automations with their next send in local time, the run in progress and its
    phase, and the last runs with links to their reports and CSVs. Pause / resume / cancel
    / trigger-test buttons call the scheduler and need `Authorization: Bearer <serve_token>`
    (ENGINE_SERVE_TOKEN); without it they get 401, and the refusal is logged.
    Also: /healthz, /readyz (state database reachable), /metrics (Prometheus text).
    """
    import signal  # noqa: PLC0415

    from engine.web.server import make_server, require_state  # noqa: PLC0415

    settings = obj.settings()
    require_state(settings)
    try:
        server = make_server(settings, host=host, port=port)
    except OSError as err:
        address = f"{host or settings.serve_host}:{settings.serve_port if port is None else port}"
        raise ConfigError(
            f"cannot serve the operator page on {address}: {err.strerror or err}",
            hint="pick a free --port (ENGINE_SERVE_PORT), 0 for any",
        ) from None
    # uvicorn stops gracefully on SIGINT / SIGTERM, then raises the signal again: ours ends the command quietly
    signal.signal(signal.SIGTERM, _interrupt)
    click.echo(f"operator page: {server.url}", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


COMMANDS = [serve]
