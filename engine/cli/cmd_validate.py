"""``engine validate``: check the whole project before anything reaches production."""

from __future__ import annotations

import sys

import click

from engine.catalog.store import CATALOG_FILE
from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli

_OFFLINE_NOTE = {  # whether the project has a catalog -> what checking without a database misses
    False: "note: columns are checked against the SQL text only; real table/column names need --db "
    "(or ENGINE_SOURCE_DSN), or a catalog: `engine catalog pull`",
    True: f"note: tables and columns are checked against {CATALOG_FILE}; --db (or ENGINE_SOURCE_DSN) also "
    "prepares every query and says where the catalog is stale",
}


@click.command()
@click.option(
    "--select",
    "-s",
    "selectors",
    multiple=True,
    help="Check only these audiences (name, layer:N, tag:T) and/or these checks "
    "(rule:FAMILY or rule:FAMILY/NAME, e.g. rule:lint, rule:templates/unknown-variable). Repeatable.",
)
@click.option(
    "--db/--no-db",
    "use_db",
    default=None,
    help="Also prepare every rendered query on the source database (parse and analyse only, "
    "nothing runs): unknown tables and columns are reported at their SQL line. "
    "Default: on when a source database is configured (ENGINE_SOURCE_DSN or --dsn).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Report style-only sqlfluff rules (layout, capitalisation, aliasing style) as errors, not warnings: for CI.",
)
@click.option("--dsn", default=None, help="Source database DSN for --db (default ENGINE_SOURCE_DSN). Read-only.")
@click.option(
    "--no-cache", is_flag=True, help="Lint every SQL file again instead of reusing results kept for unchanged files."
)
@pass_cli
@handle_errors
def validate(
    obj: CliContext, selectors: tuple[str, ...], use_db: bool | None, dsn: str | None, no_cache: bool, strict: bool
) -> None:
    """Check audiences/, sql/, schedules.yaml, cadence.yaml and push templates; print every problem.

    \b
    Checks (families for --select rule:...):
      yaml       YAML syntax, JSON Schema, unknown keys (with "did you mean"),
                 unused params (warning), test-case files (audiences/*.tests.yaml)
      sql        referenced SQL files exist
      render     Jinja renders (sandboxed, StrictUndefined); undeclared variables
      catalog    tables and columns the SQL names are in catalog/source.yaml
                 (`engine catalog pull`); with --db, where it is stale (warning)
      lint       sqlfluff with the project's .sqlfluff (lines of the source SQL);
                 style-only rules are warnings unless --strict
      columns    columns used by binds, joins, prioritise, require, thresholds,
                 segments, metrics and outputs exist where they are used
      templates  [[var:x]] are headers of the output sent, typos ([[vra:...),
                 layers, deep-link hosts
      schedules  cron, time zones, referenced audiences/templates, lead times,
                 cancellation windows, duplicate ids, vars
      cadence    cadence.yaml and the layers audiences use
      names      duplicate audience names, colliding output file names
      db         (--db) queries prepared on the source database

    Each problem prints as path:line:col: error|warning: message [rule], then the source
    line with a caret and a hint. Exit code 0 when there is no error (warnings allowed),
    1 when there are errors, 2 on usage errors, 3 when --db cannot reach the database.
    """
    from engine import api  # noqa: PLC0415  (keep `engine --help` fast)
    from engine.validate.report import format_report  # noqa: PLC0415

    settings = obj.settings(source_dsn=dsn)
    db = bool(settings.source_dsn) if use_db is None else use_db
    if use_db is None and not db:
        click.echo(_OFFLINE_NOTE[(settings.project_dir / CATALOG_FILE).exists()], err=True)
    report = api.validate(settings, select=selectors, db=db, cache=not no_cache, strict=strict)
    if obj.json_output:
        emit_json(report.as_dict())
    else:
        click.echo(format_report(settings.project_dir, report, style=click.style))
    if not report.ok:
        sys.exit(1)


COMMANDS = [validate]
