"""``engine report``: write (or rewrite) a run's HTML report, or an audience's history page."""

from __future__ import annotations

import webbrowser

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli


@click.command()
@click.argument("run_id", required=False)
@click.option(
    "--history",
    "history",
    metavar="NAME",
    default=None,
    help="Chart audience size and outcomes over the last runs of this audience or automation instead (an "
    "automation's also its treated vs held-out conversion rates).",
)
@click.option(
    "--last", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs --history shows."
)
@click.option("--open", "open_it", is_flag=True, help="Open the page in the default browser.")
@pass_cli
@handle_errors
def report(obj: CliContext, run_id: str | None, history: str | None, last: int, open_it: bool) -> None:
    """Write the self-contained HTML report of RUN_ID next to its manifest.json and print its path.

    The report shows the funnel per output (rows after each query, step and threshold, then
    sent / failed / skipped / in doubt / held out from the send ledger), an automation run's
    impact once its conversion window has passed (treated vs held-out rates, uplift with its
    95 % interval, p-value, verdict), step durations, params and as_of, files with rows and
    sha256, a sample of rows (PII columns from config masked) and warnings. It works offline:
    no script, font or style is fetched. RUN_ID may be the first 8 characters shown in the run
    folder's name. With --history NAME, writes <output>/NAME/history.html instead (needs the
    state database); for an automation it also charts the conversion rates of treated and
    held-out users over its measured runs.
    """
    from engine import api  # noqa: PLC0415

    if bool(run_id) == bool(history):
        raise click.UsageError("give either RUN_ID or --history NAME")
    settings = obj.settings()
    path = api.report_history(settings, history, limit=last) if history else api.report(settings, run_id or "")
    if obj.json_output:
        emit_json({"ok": True, "report": str(path)})
    else:
        click.echo(str(path))
    if open_it:
        webbrowser.open(path.as_uri())


COMMANDS = [report]
