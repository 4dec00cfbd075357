"""Entry point of the ``engine`` command: global options and the command list."""

from __future__ import annotations

from pathlib import Path

import click

from engine import __version__
from engine.cli.common import CliContext
from engine.logs import setup_logging


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="audience-engine")
@click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project root holding audiences/, sql/ and schedules.yaml (default: current directory, "
                   "or ENGINE_PROJECT_DIR).")
@click.option("--profile", default=None, help="Profile from engine.yaml's 'profiles:' section (or ENGINE_PROFILE).")
@click.option("--json", "json_output", is_flag=True, help="Print machine-readable JSON on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option("--log-format", type=click.Choice(["auto", "json", "plain"]), default="auto", show_default=True,
              help="Log lines on stderr: plain on a terminal, JSON otherwise.")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path | None, profile: str | None, json_output: bool,
        verbose: bool, log_format: str) -> None:
    """audience-engine: declarative push audiences for Tradeblock.

    Audiences are YAML files in audiences/ naming Jinja SQL in sql/. The engine renders
    the SQL with bound parameters, runs it read-only against the app database, shapes
    the rows in DuckDB and writes the CSVs; delivery sends them through FCM exactly once.

    Settings resolve as: flags > environment (ENGINE_SOURCE_DSN, ENGINE_STATE_DSN,
    ENGINE_OUTPUT_DIR, ENGINE_FCM_CREDENTIALS, ...) > engine.yaml > defaults.

    Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 database unreachable.
    """
    setup_logging(log_format, verbose=verbose)
    ctx.obj = CliContext(project_dir=project_dir, profile=profile, json_output=json_output, verbose=verbose)


def _register() -> None:
    from engine.cli import (  # noqa: PLC0415
        cmd_cadence, cmd_db, cmd_demo, cmd_run, cmd_send, cmd_validate)

    for module in (cmd_db, cmd_run, cmd_demo, cmd_validate, cmd_send, cmd_cadence):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="engine")
