"""``engine run``, ``engine list``, ``engine preview``, ``engine compile``: audiences from the command line."""

from __future__ import annotations

import logging
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli
from engine.logs import stderr_line
from engine.runs.model import OutputStatus, RunStatus, json_ready

if TYPE_CHECKING:
    from engine.runs.model import RunResult

SELECT_HELP = "Audience name, layer:N or tag:T; repeatable. Default: every audience."
VAR_HELP = "Override a param: --var lookback_hours=72 (repeatable)."
AS_OF_HELP = "The moment the audience is computed for (ISO 8601, default now). Same as-of, same CSVs."


_COLOUR = {RunStatus.SUCCEEDED: "green", RunStatus.FAILED: "red"}


def _summary(result: "RunResult") -> dict:
    """The JSON summary of one run: the manifest's own fields plus where the folder is."""
    manifest = result.manifest
    return {
        "run_id": result.run_id,
        "audience": result.audience,
        "status": result.status.value,
        "run_dir": str(result.run_dir) if result.run_dir else None,
        "outputs": [o.to_json() for o in manifest.outputs],
        "errors": list(manifest.errors),
        "warnings": list(manifest.warnings),
        "segments": dict(manifest.segments),
        "steps": [s.to_json() for s in manifest.steps],
        "params": json_ready(manifest.params),
    }


def _print_result(result: "RunResult") -> None:
    dry = result.manifest.dry_run
    click.secho(f"{result.audience}: {result.status.value}", fg=_COLOUR.get(result.status, "yellow"), bold=True)
    for step in result.manifest.steps:
        removed = ", ".join(f"{k}: -{v}" for k, v in step.removed.items() if v)
        click.echo(
            f"  {step.step:<24} {step.rows:>10,} rows  {step.seconds:.3f}s" + (f"  ({removed})" if removed else "")
        )
    for output in result.manifest.outputs:
        tag = " [TEST]" if output.is_test else ""
        written = output.status is OutputStatus.WRITTEN
        status = "would write" if dry and written else output.status.value.replace("_", " ")
        click.echo(
            f"  -> {output.file}{tag}: {output.rows:,} rows, {status}" + (f" ({output.error})" if output.error else "")
        )
    for error in result.manifest.errors:
        if not stderr_line(logging.ERROR, error, audience=result.audience):  # JSON mode: a JSON line
            click.secho(f"  error: {error}", fg="red", err=True)
    if result.run_dir:
        click.echo(f"  run folder: {result.run_dir}")


@click.command()
@click.option("--select", "-s", "selectors", multiple=True, help=SELECT_HELP)
@click.option("--as-of", default=None, help=AS_OF_HELP)
@click.option("--var", "variables", multiple=True, help=VAR_HELP)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output root (default ENGINE_OUTPUT_DIR or ./output); each run gets its own folder.",
)
@click.option("--dsn", default=None, help="Source database DSN (default ENGINE_SOURCE_DSN). Opened read-only.")
@click.option("--dry-run", is_flag=True, help="Run the queries and count the rows; write no files, record nothing.")
@click.option(
    "--automation",
    default=None,
    help="Run this schedules.yaml automation's audience with its vars (--var overrides them).",
)
@pass_cli
@handle_errors
def run(
    obj: CliContext,
    selectors: tuple[str, ...],
    as_of: str | None,
    variables: tuple[str, ...],
    out: Path | None,
    dsn: str | None,
    dry_run: bool,
    automation: str | None,
) -> None:
    """Run audiences: query the app database, shape the rows, write CSVs + TEST CSVs + manifest.json.

    Each audience run writes atomically into OUT/<audience>/<timestamp>_<run id>/ and is
    recorded in the state database when ENGINE_STATE_DSN is set. Without --select, every
    audience runs that has all its params (defaults or --var); the others are listed as
    skipped with the reason. Exit code 1 when any audience that ran failed or only partly
    succeeded (the manifest says exactly what and why).
    """
    from engine import api  # noqa: PLC0415  (heavy imports only when the command runs)
    from engine.spec.params import parse_var_flags  # noqa: PLC0415
    from engine.timeutil import parse_as_of  # noqa: PLC0415

    settings = obj.settings(output_dir=out, source_dsn=dsn)
    anchor = parse_as_of(as_of)
    var_values = parse_var_flags(variables)
    if automation and selectors:
        raise click.UsageError("give --automation or --select, not both")
    skipped: dict[str, str] = {}
    chosen = list(selectors)
    if not selectors and not automation:  # everything that can run; the rest is listed with the reason, not an error
        ready, skipped = api.split_runnable(settings, variables=var_values)
        chosen = [s.name for s in ready]
    status = sys.stderr.isatty() and not obj.json_output
    results = []
    if automation:
        with _spinner("running the automation's audience") if status else nullcontext():
            results = api.run_automation(settings, automation, as_of=anchor, variables=var_values, dry_run=dry_run)
    elif chosen:
        with _spinner("running audiences") if status else nullcontext():
            results = api.run(
                settings,
                selectors=chosen,
                as_of=anchor,
                variables=var_values,
                dry_run=dry_run,
                strict=len(chosen) == 1 and bool(selectors),
            )
    if obj.json_output:
        emit_json(
            {
                "ok": all(r.ok for r in results),
                "as_of": anchor.isoformat(),
                "dry_run": dry_run,
                "runs": [_summary(r) for r in results],
                "skipped": [{"audience": name, "reason": why} for name, why in skipped.items()],
            }
        )
    else:
        for result in results:
            _print_result(result)
        for name, why in skipped.items():
            click.secho(f"{name}: skipped, {why}", fg="yellow")
    if not all(r.ok for r in results):
        sys.exit(1)


def _spinner(text: str):
    from rich.console import Console  # noqa: PLC0415

    return Console(stderr=True).status(text)


@click.command(name="list")
@click.option("--select", "-s", "selectors", multiple=True, help=SELECT_HELP)
@pass_cli
@handle_errors
def list_(obj: CliContext, selectors: tuple[str, ...]) -> None:
    """List the project's audiences: name, layer, params with defaults, outputs."""
    from engine import api  # noqa: PLC0415  (heavy imports only when the command runs)

    specs = api.list_audiences(obj.settings(), selectors)
    if obj.json_output:
        emit_json(
            [
                {
                    "name": s.name,
                    "layer": s.layer,
                    "file": s.display_path,
                    "description": s.description,
                    "params": {p.name: {"type": p.type, "default": p.default} for p in s.params},
                    "outputs": [o.name for o in s.outputs],
                }
                for s in specs
            ]
        )
        return
    for s in specs:
        params = ", ".join(f"{p.name}={p.default}" for p in s.params)
        click.echo(f"{s.name}  (layer {s.layer}, {s.display_path})")
        click.echo(f"    params: {params or '-'}")
        click.echo(f"    outputs: {', '.join(o.name for o in s.outputs)}")


@click.command()
@click.argument("name")
@click.option("--as-of", default=None, help=AS_OF_HELP)
@click.option("--var", "variables", multiple=True, help=VAR_HELP)
@click.option("--rows", type=click.IntRange(min=1), default=5, show_default=True, help="Rows shown per output.")
@click.option("--dsn", default=None, help="Source database DSN (default ENGINE_SOURCE_DSN).")
@pass_cli
@handle_errors
def preview(
    obj: CliContext, name: str, as_of: str | None, variables: tuple[str, ...], rows: int, dsn: str | None
) -> None:
    """Run one audience without writing anything: row counts after each step and the first rows of each output."""
    from engine import api  # noqa: PLC0415  (heavy imports only when the command runs)
    from engine.spec.params import parse_var_flags  # noqa: PLC0415
    from engine.timeutil import parse_as_of  # noqa: PLC0415

    settings = obj.settings(source_dsn=dsn)
    results = api.run(
        settings,
        selectors=[name],
        as_of=parse_as_of(as_of),
        variables=parse_var_flags(variables),
        dry_run=True,
        preview_rows=rows,
        record=False,
    )
    result = results[0]
    if obj.json_output:
        emit_json(
            {**_summary(result), "preview": {k: {"headers": h, "rows": r} for k, (h, r) in result.previews.items()}}
        )
        return
    _print_result(result)
    for output, (headers, sample) in result.previews.items():
        click.secho(f"\n{output}:", bold=True)
        click.echo("  " + " | ".join(headers))
        for row in sample:
            click.echo("  " + " | ".join(row))
    if not result.ok:
        sys.exit(1)


@click.command(name="compile")
@click.argument("name")
@click.option("--as-of", default=None, help=AS_OF_HELP)
@click.option("--var", "variables", multiple=True, help=VAR_HELP)
@click.option(
    "--placeholders",
    is_flag=True,
    help="Print the SQL as sent (%(name)s placeholders) with the params listed as SQL literals.",
)
@pass_cli
@handle_errors
def compile_(obj: CliContext, name: str, as_of: str | None, variables: tuple[str, ...], placeholders: bool) -> None:
    """Print each query of an audience as rendered SQL, values written in as SQL literals (no database needed).

    The output pastes into psql. Arrays bound from an earlier query (bind:) are empty here:
    they only exist once that query has run. A run always sends the values as bound
    parameters; --placeholders shows that form.
    """
    from engine import api  # noqa: PLC0415  (heavy imports only when the command runs)
    from engine.render.literals import literal, one_line  # noqa: PLC0415
    from engine.spec.params import parse_var_flags  # noqa: PLC0415
    from engine.timeutil import parse_as_of  # noqa: PLC0415

    _, compiled = api.compile_audience(
        obj.settings(), name, as_of=parse_as_of(as_of), variables=parse_var_flags(variables)
    )
    if obj.json_output:
        emit_json(
            [
                {
                    "name": c.query.name,
                    "origin": c.query.origin,
                    "sql": c.query.sql,
                    "sql_with_literals": c.with_literals,
                    "params": {k: literal(v) for k, v in c.query.params.items()},
                }
                for c in compiled
            ]
        )
        return
    for c in compiled:
        r = c.query
        click.secho(f"-- {r.name} ({r.origin})", bold=True)
        if placeholders:
            click.echo(r.sql.rstrip())
            for key, value in r.params.items():
                click.echo(f"-- {key} = {one_line(literal(value))}")
        else:
            click.echo(c.with_literals.rstrip() + ";")
        click.echo()


COMMANDS = [run, list_, preview, compile_]
