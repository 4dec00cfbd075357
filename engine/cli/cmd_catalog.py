"""``engine catalog pull``: write the committed source catalog (catalog/source.yaml) from the app database."""

from __future__ import annotations

from dataclasses import asdict

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli


@click.group()
def catalog() -> None:
    """The source catalog: the app database's tables, columns and types, committed in catalog/source.yaml.

    With it, `engine validate` (even --no-db, as in CI) checks every table and column the audience
    SQL names, and with a database it warns where the catalog is stale.
    """


@catalog.command()
@click.option("--schema", default="public", show_default=True, help="The database schema to read.")
@click.option(
    "--all",
    "all_tables",
    is_flag=True,
    help="Every table and view of the schema, not only those the project's SQL reads.",
)
@click.option("--dsn", default=None, help="Source database DSN (default ENGINE_SOURCE_DSN). Opened read-only.")
@pass_cli
@handle_errors
def pull(obj: CliContext, schema: str, all_tables: bool, dsn: str | None) -> None:
    """Write catalog/source.yaml: the tables the project's audience SQL reads (or --all of the schema), each
    with every column and its type, sorted so that a pull after a migration shows only what changed."""
    from engine import api  # noqa: PLC0415  (keep `engine --help` fast)

    result = api.pull_catalog(obj.settings(source_dsn=dsn), schema=schema, all_tables=all_tables)
    if obj.json_output:
        emit_json({"ok": True, **asdict(result)})
        return
    state = "wrote" if result.changed else "unchanged:"
    click.echo(f"{state} {result.path} ({result.tables} tables, {result.columns} columns of schema {result.schema})")
    for table in result.missing:
        click.echo(
            f"warning: the project's SQL reads {table!r}, which schema {result.schema!r} does not have", err=True
        )


COMMANDS = [catalog]
