"""``engine diff A B``: what changed between two runs, output by output."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli


@click.command(name="diff")
@click.argument("a")
@click.argument("b")
@click.option("--key", default=None, help="Column that identifies a row (default user_id, else the first column).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where run ids are looked up (default ENGINE_OUTPUT_DIR or ./output).",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything differs (as `git diff --exit-code`).")
@pass_cli
@handle_errors
def diff(obj: CliContext, a: str, b: str, key: str | None, out: Path | None, exit_code: bool) -> None:
    """Compare run A (before) with run B (after): per output, rows added, removed and changed, and size change.

    A and B are run ids (looked up under the output root) or folders of CSVs from anywhere
    (a run folder, the legacy scripts' output). Files are matched by name without their
    timestamp (recent-wishlist-adders_20261120_120000.csv ~ recent-wishlist-adders.csv);
    rows by the key column.

    \b
    engine diff 3f529221 9c0e12ab
    engine diff legacy_output/ output/layer3_recent_activity/20261120_120000_9c0e12ab --key user_id
    """
    from engine import api  # noqa: PLC0415

    report = api.diff(obj.settings(output_dir=out), a, b, key=key)
    if obj.json_output:
        emit_json(report.as_dict())
    else:
        _print(report)
    if exit_code and not report.same:
        sys.exit(1)


def _print(report) -> None:
    click.echo(f"A: {report.a}\nB: {report.b}")
    for f in report.files:
        pct = f" ({f.size_change_pct:+.1f}%)" if f.size_change_pct is not None else ""
        head = "same" if f.same else f"+{f.added:,} added, -{f.removed:,} removed, ~{f.changed:,} changed"
        click.secho(f"\n{f.name}  (key {f.key})", bold=True)
        click.echo(f"  rows {f.rows_a:,} -> {f.rows_b:,}: {f.rows_b - f.rows_a:+,}{pct}; {head}")
        if f.changed_columns:
            click.echo("  changed columns: " + ", ".join(f"{c} ({n:,})" for c, n in f.changed_columns.items()))
        for what, cols in (("columns only in B", f.columns_added), ("columns only in A", f.columns_removed)):
            if cols:
                click.echo(f"  {what}: {', '.join(cols)}")
        for kind, mark, count in (("added", "+", f.added), ("removed", "-", f.removed), ("changed", "~", f.changed)):
            shown = f.examples.get(kind, ())
            for example in shown:
                click.echo(f"    {mark} {example}")
            if count > len(shown):
                click.echo(f"    {mark} and {count - len(shown):,} more {kind}")
    for name in report.only_in_a:
        click.secho(f"\n{name}: only in A", fg="yellow")
    for name in report.only_in_b:
        click.secho(f"\n{name}: only in B", fg="yellow")
    click.echo("\nno differences" if report.same else "")


COMMANDS = [diff]
