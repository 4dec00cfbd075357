"""``engine validate``: check the whole project before anything reaches production."""

from __future__ import annotations

import sys

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli


@click.command()
@click.option("--select", "-s", "selectors", multiple=True,
              help="Check only these audiences (name, layer:N, tag:T) and/or these checks "
                   "(rule:FAMILY or rule:FAMILY/NAME, e.g. rule:lint, rule:templates/unknown-variable). Repeatable.")
@click.option("--db", "use_db", is_flag=True,
              help="Also prepare every rendered query on the source database (parse and analyse only, "
                   "nothing runs): unknown tables and columns are reported at their SQL line.")
@click.option("--dsn", default=None, help="Source database DSN for --db (default ENGINE_SOURCE_DSN). Read-only.")
@click.option("--no-cache", is_flag=True,
              help="Lint every SQL file again instead of reusing results kept for unchanged files.")
@pass_cli
@handle_errors
def validate(obj: CliContext, selectors: tuple[str, ...], use_db: bool, dsn: str | None, no_cache: bool) -> None:
    """Check audiences/, sql/, schedules.yaml, cadence.yaml and push templates; print every problem.

    \b
    Checks (families for --select rule:...):
      yaml       YAML syntax, JSON Schema, unknown keys (with "did you mean")
      sql        referenced SQL files exist
      render     Jinja renders (sandboxed, StrictUndefined); undeclared variables
      lint       sqlfluff with the project's .sqlfluff (lines of the source SQL)
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
    report = api.validate(settings, select=selectors, db=use_db, cache=not no_cache)
    if obj.json_output:
        emit_json(report.as_dict())
    else:
        click.echo(format_report(settings.project_dir, report, style=click.style))
    if not report.ok:
        sys.exit(1)


COMMANDS = [validate]
