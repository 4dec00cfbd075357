"""Entry point of the ``engine`` command: global options and the command list."""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from engine import __version__
from engine.cli.common import CliContext
from engine.logs import setup_logging

# command name -> module defining it; modules load only when their command runs, so
# `engine validate` does not pay for pyarrow, DuckDB or firebase-admin
_COMMAND_MODULES = {
    "run": "cmd_run", "list": "cmd_run", "preview": "cmd_run", "plan": "cmd_run",
    "migrate": "cmd_db", "seed": "cmd_db", "demo": "cmd_demo", "validate": "cmd_validate",
    "send": "cmd_send", "cadence": "cmd_cadence", "test": "cmd_test", "diff": "cmd_diff",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = _COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"engine.cli.{module_name}")
        return next(c for c in module.COMMANDS if c.name == cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


def main() -> None:
    cli(prog_name="engine")
