"""Entry point of the ``engine`` command: global options and the command list."""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

import click

from engine.cli.common import CliContext, handle_errors
from engine.config.project import project_root, require_project
from engine.logs import setup_logging

# command name -> module defining it; modules load only when their command runs, so
# `engine validate` does not pay for pyarrow, DuckDB or the FCM client
_COMMAND_MODULES = {
    "run": "cmd_run",
    "list": "cmd_run",
    "preview": "cmd_run",
    "compile": "cmd_run",
    "migrate": "cmd_db",
    "seed": "cmd_db",
    "demo": "cmd_demo",
    "validate": "cmd_validate",
    "send": "cmd_send",
    "cadence": "cmd_cadence",
    "test": "cmd_test",
    "diff": "cmd_diff",
    "scheduler": "cmd_scheduler",
    "pause": "cmd_control",
    "resume": "cmd_control",
    "cancel": "cmd_control",
    "trigger": "cmd_control",
    "status": "cmd_status",
    "plan": "cmd_status",
    "report": "cmd_report",
    "impact": "cmd_impact",
    "serve": "cmd_serve",
    "catalog": "cmd_catalog",
    "init": "cmd_init",
}
# commands that read no project folder: they start one, bring their own (demo outside a project runs
# the packaged example) or only touch a database; every other command outside a project exits 2
PROJECT_FREE = frozenset({"init", "demo", "seed", "migrate"})


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = _COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"engine.cli.{module_name}")
        command = next(c for c in module.COMMANDS if c.name == cmd_name)
        if cmd_name not in PROJECT_FREE:
            _require_project(command)
        return _accept_global_options(command)


def _require_project(command: click.Command) -> None:
    """Check the project folder before the command runs (after its options, so --help and a late
    --project-dir work): outside a project every command fails as ``validate`` does, never a silent 0."""
    if command.callback is None or getattr(command, "_project_required", False):
        return
    callback = command.callback

    @functools.wraps(callback)
    @handle_errors
    def checked(*args: Any, **kwargs: Any) -> Any:
        obj = click.get_current_context().find_object(CliContext)
        require_project(project_root(obj.project_dir if obj else None))
        return callback(*args, **kwargs)

    command.callback = checked
    command._project_required = True  # type: ignore[attr-defined]


def _late_global(name: str):
    """Callback of a global option given after the subcommand: update the context as the group would have."""

    def callback(ctx: click.Context, _param: click.Parameter, value: object) -> None:
        obj = ctx.find_object(CliContext)
        if obj is None or value in (None, False):
            return
        setattr(obj, name, value)
        if name in {"verbose", "log_format"}:
            setup_logging(obj.log_format, verbose=obj.verbose)

    return callback


def _accept_global_options(command: click.Command) -> click.Command:
    """Let `engine run --json` mean `engine --json run` (hidden copies of the group's options, added once)."""
    if getattr(command, "_global_options_added", False):
        return command
    taken = {opt for p in command.params for opt in getattr(p, "opts", [])}
    late = [
        click.Option(
            ["--project-dir"],
            type=click.Path(file_okay=False, path_type=Path),
            hidden=True,
            expose_value=False,
            callback=_late_global("project_dir"),
        ),
        click.Option(["--profile"], hidden=True, expose_value=False, callback=_late_global("profile")),
        click.Option(["--json"], is_flag=True, hidden=True, expose_value=False, callback=_late_global("json_output")),
        click.Option(
            ["-v", "--verbose"], is_flag=True, hidden=True, expose_value=False, callback=_late_global("verbose")
        ),
        click.Option(
            ["--log-format"],
            type=click.Choice(["auto", "json", "plain"]),
            hidden=True,
            expose_value=False,
            callback=_late_global("log_format"),
        ),
    ]
    # processed before the command's own options, so a late --json is in place before anything prints
    command.params[:0] = [opt for opt in late if not taken & set(opt.opts)]
    for opt in late:
        opt.is_eager = True
    command._global_options_added = True  # type: ignore[attr-defined]
    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="audience-engine", prog_name="audience-engine")
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Project root holding audiences/, sql/ and schedules.yaml (default: current directory, "
    "or ENGINE_PROJECT_DIR).",
)
@click.option("--profile", default=None, help="Profile from engine.yaml's 'profiles:' section (or ENGINE_PROFILE).")
@click.option("--json", "json_output", is_flag=True, help="Print machine-readable JSON on stdout.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "plain"]),
    default="auto",
    show_default=True,
    help="Log lines on stderr: plain on a terminal, JSON otherwise.",
)
@click.pass_context
def cli(
    ctx: click.Context, project_dir: Path | None, profile: str | None, json_output: bool, verbose: bool, log_format: str
) -> None:
    """audience-engine: declarative push audiences for Tradeblock.

    Audiences are YAML files in audiences/ naming Jinja SQL in sql/. The engine renders
    the SQL with bound parameters, runs it read-only against the app database, shapes
    the rows in DuckDB and writes the CSVs; delivery sends them through FCM exactly once.

    Settings resolve as: flags > environment (ENGINE_SOURCE_DSN, ENGINE_STATE_DSN,
    ENGINE_OUTPUT_DIR, ENGINE_FCM_CREDENTIALS, ...) > engine.yaml > defaults.

    Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 database unreachable.
    Global options may also follow the command: `engine run --json --log-format plain`.
    """
    setup_logging(log_format, verbose=verbose)
    ctx.obj = CliContext(
        project_dir=project_dir, profile=profile, json_output=json_output, verbose=verbose, log_format=log_format
    )


def main() -> None:
    cli(prog_name="engine")
