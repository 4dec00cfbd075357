"""``engine demo``: seed a local database, run every audience, send to a local fake FCM."""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli
from engine.config.project import is_project
from engine.scaffold.example import copy_example


@click.command()
@click.option(
    "--users", type=click.IntRange(min=100), default=2000, show_default=True, help="Synthetic users to generate."
)
@click.option("--seed", "seed_value", type=int, default=42, show_default=True, help="Random seed for the data.")
@click.option("--as-of", default=None, help="Anchor time for the data and the audiences (ISO 8601, default now).")
@click.option("--no-send", is_flag=True, help="Stop after writing the CSVs (no fake FCM sends).")
@click.option(
    "--db",
    default=None,
    metavar="NAME",
    help="Database to (re)create (default ENGINE_DEMO_DATABASE, else audience_engine_demo_<OS user>).",
)
@click.option("--reset", is_flag=True, help="Drop and recreate --db even if engine demo did not create it.")
@pass_cli
@handle_errors
def demo(
    obj: CliContext, users: int, seed_value: int, as_of: str | None, no_send: bool, db: str | None, reset: bool
) -> None:
    """Show the whole engine on this machine with nothing configured.

    Finds a PostgreSQL (ENGINE_SOURCE_DSN, else 127.0.0.1:5432 as postgres, else a private
    server from the 'demo' extra when not root), recreates the database
    audience_engine_demo_<OS user> (--db; one it did not create only with --reset), seeds synthetic
    Tradeblock-shaped data, runs every audience in audiences/, and sends each push template's TEST and
    live pushes to a local fake FCM server through the engine's FCM client. CSVs land under ./output
    (ENGINE_OUTPUT_DIR). Outside a project it runs the example project shipped with the engine, copied
    into a new temporary folder (kept, with its output, so the CSVs and reports can be opened).
    """
    from engine.demo.runner import run_demo  # noqa: PLC0415
    from engine.timeutil import parse_as_of  # noqa: PLC0415

    settings = obj.settings(demo_database=db)
    note = (lambda _: None) if obj.json_output else (lambda text: click.secho(f"» {text}", fg="cyan", err=True))
    if not is_project(settings.project_dir):
        example = copy_example(Path(tempfile.mkdtemp(prefix="engine-demo-project-")))
        note(f"{settings.project_dir} is not a project: running the packaged example project copied to {example}")
        settings = replace(settings, project_dir=example)
    report = run_demo(
        settings, users=users, seed=seed_value, as_of=parse_as_of(as_of), send=not no_send, reset=reset, note=note
    )
    if obj.json_output:
        emit_json(
            {
                "ok": report.ok,
                "server": report.server,
                "database": report.database,
                "project_dir": str(settings.project_dir),
                "seed": report.seed,
                "output_dir": str(report.output_dir),
                "runs": [
                    {
                        "audience": r.audience,
                        "status": r.status.value,
                        "run_dir": str(r.run_dir),
                        "outputs": [o.to_json() for o in r.manifest.outputs],
                        "errors": list(r.manifest.errors),
                    }
                    for r in report.runs
                ],
                "skipped": report.skipped,
                "sends": report.sends,
                "fcm_messages": report.fcm_messages,
                "reports": [str(p) for p in report.reports],
                "automation_runs": report.automation_runs,
                "planted": report.planted,
                "impact": report.impact,
            }
        )
    else:
        click.echo(f"seeded {report.seed['users']:,} users in {report.seed['seconds']:.1f}s ({report.database})")
        for run in report.runs:
            rows = sum(o.rows for o in run.manifest.production_outputs)
            click.echo(f"  {run.audience:28} {run.status.value:10} {rows:>7,} rows  {run.run_dir}")
            for error in run.manifest.errors:
                click.secho(f"    error: {error}", fg="red")
        for name, why in report.skipped.items():
            click.secho(f"  {name:28} skipped, {why}", fg="yellow")
        for sent in report.sends:
            click.echo(
                f"  push {sent['template']:28} {sent['mode']:5} {sent['status']:10} sent {sent['sent']:>6,}"
                f"  no token {sent['no_token']:,}  cadence-excluded {sum(sent['cadence_excluded'].values()):,}"
                f"  held out {sent['held_out']:,}"
            )
        click.echo(f"fake FCM received {report.fcm_messages:,} messages; outputs under {report.output_dir}")
        if report.reports:
            click.echo(f"run report (open in a browser): {report.reports[0]}")
        _impact_table(report.planted, report.impact)
    if not report.ok:
        sys.exit(1)


def _pts(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.2f}"


def _rate(rate: float | None, users: int) -> str:
    return f"{'-' if rate is None else f'{rate * 100:.1f} %'} of {users:,}"


def _impact_table(planted: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """The demo's last lines: what was planted, and what ``engine impact`` measured (push-level rows)."""
    for truth in planted:
        click.secho(
            f"impact of {truth['automation_id']}: planted {truth['conversion']} at {truth['base_rate']:.0%} for the "
            f"held out, {truth['base_rate'] + truth['uplift']:.0%} for the treated ({_pts(truth['uplift'])} points); "
            "measured now, windows still open (`engine impact` again once they close)",
            bold=True,
        )
        mine = [r for r in rows if r["automation"] == truth["automation_id"] and r["conversion"] == truth["conversion"]]
        click.echo(f"  {'push':28} {'treated':>17} {'held out':>15}  {'uplift, points (95 % CI)':32} p-value")
        for r in mine:
            ci = r["uplift_ci"]
            interval = f"({_pts(ci[0])} to {_pts(ci[1])})" if ci else ""
            p_value = "-" if r["p_value"] is None else f"{r['p_value']:.3f}"
            click.echo(
                f"  {r['push']:28} {_rate(r['treated_rate'], r['treated']):>17}"
                f" {_rate(r['held_out_rate'], r['held_out']):>15}  {_pts(r['uplift']):>7} {interval:24} {p_value}"
            )


COMMANDS = [demo]
