"""``engine init``: start a new project in a folder."""

from __future__ import annotations

from pathlib import Path

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli
from engine.scaffold.init import init_project


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Write into a folder that is not empty (files of the same name are replaced)."
)
@pass_cli
@handle_errors
def init(obj: CliContext, directory: Path, force: bool) -> None:
    """Start a project in DIRECTORY (default: here): one example audience with its test cases, the shared
    SQL macros, schedules.yaml, cadence.yaml, engine.yaml, .sqlfluff, the source catalog, a README for
    analysts and a CI workflow running `engine validate` and `engine test`.

    The new project validates and tests green at once. A folder that is not empty is refused unless --force.
    """
    written = init_project(directory, force=force)
    if obj.json_output:
        emit_json({"ok": True, "project_dir": str(directory.resolve()), "files": written})
        return
    click.echo(f"created an audience-engine project in {directory.resolve()} ({len(written)} files)")
    where = "" if directory.resolve() == Path.cwd() else f"cd {directory} && "
    click.echo(f"next: {where}engine validate && engine test   (README.md says more)")


COMMANDS = [init]
