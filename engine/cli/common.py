"""Helpers shared by CLI commands: the context object, error printing, JSON output."""

from __future__ import annotations

import functools
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from engine.config import Settings, resolve
from engine.errors import EngineError
from engine.logs import stderr_line
from engine.secrets import mask_text

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliContext:
    """What the top-level group resolved: settings inputs and output mode."""

    project_dir: Path | None
    profile: str | None
    json_output: bool
    verbose: bool
    log_format: str = "auto"

    def settings(self, **flags: Any) -> Settings:
        """Resolve settings with this command's flags on top."""
        return resolve(flags, project_dir=self.project_dir, profile=self.profile)


def emit_json(payload: Any) -> None:
    click.echo(json.dumps(payload, indent=2, default=str))


def print_error(err: EngineError) -> None:
    if stderr_line(
        logging.ERROR,
        err.message,
        location=str(err.location) if err.location else None,
        hint=mask_text(err.hint) if err.hint else None,
        exit_code=err.exit_code,
        error_type=type(err).__name__,
    ):
        return
    loc = f"{err.location}: " if err.location else ""
    click.secho(f"{loc}error: {mask_text(err.message)}", fg="red", err=True)
    if err.hint:
        click.echo(f"  hint: {mask_text(err.hint)}", err=True)


def handle_errors(func: F) -> F:
    """Map EngineError to a clear message and its exit code (JSON when --json)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EngineError as err:
            ctx = click.get_current_context()
            obj = ctx.find_object(CliContext)
            if obj and obj.json_output:
                emit_json(
                    {
                        "ok": False,
                        "error": {
                            "type": type(err).__name__,
                            "message": mask_text(err.message),
                            "hint": err.hint,
                            "location": str(err.location) if err.location else None,
                        },
                    }
                )
            else:
                print_error(err)
            sys.exit(err.exit_code)

    return wrapper  # type: ignore[return-value]


pass_cli = click.make_pass_decorator(CliContext)
