"""``engine send``: push a run's output (or a CSV) through FCM exactly once, resumable."""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from engine import api
from engine.api import SendReport, SendRequest, Shard
from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli
from engine.push.preview import DEFAULT_SAMPLES, PushPreview
from engine.timeutil import parse_as_of


@click.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--template",
    "-t",
    default=None,
    help="Push template name from schedules.yaml 'templates:' (title, body, deep link, layer, output).",
)
@click.option("--title", default=None, help="Ad hoc push title; [[var:column]] substitutes a CSV column.")
@click.option("--body", default=None, help="Ad hoc push body.")
@click.option("--deep-link", default=None, help="Ad hoc deep link; substituted values are URL-encoded.")
@click.option("--layer", type=int, default=None, help="Ad hoc push layer id (1-5; see `engine cadence rules`).")
@click.option(
    "--test",
    is_flag=True,
    help="Send the run's TEST output to the test users only, as the test layer (4), bypassing cadence.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Render, filter and count, and report; no FCM call, nothing recorded, no credentials needed.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=0),
    default=DEFAULT_SAMPLES,
    show_default=True,
    help="With --dry-run: how many rendered pushes to show (PII columns masked as in the run report).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=None,
    help="Send at most N pushes now; running the same command again continues the send.",
)
@click.option(
    "--send-id",
    default=None,
    help="Name the send explicitly (default: derived from run + template + mode, or CSV checksum + push).",
)
@click.option(
    "--as-of",
    default=None,
    help="With --dry-run only: check cadence as of this time (ISO 8601). A real send always checks "
    "cadence and records pushes at the real time, so --as-of without --dry-run is refused.",
)
@click.option(
    "--resend-in-flight",
    is_flag=True,
    help="On resume, send again the pushes an interrupted attempt had in flight (at least once; "
    "by default they are not resent: at most once).",
)
@click.option(
    "--max-in-doubt",
    type=click.IntRange(min=1),
    default=None,
    help="At most N pushes claimed and not yet recorded at once, so at most N in doubt after a crash "
    "(default: twice ENGINE_FCM_CONCURRENCY, 128). Answers are committed every 20 ms.",
)
@click.option(
    "--automation",
    default=None,
    help="Send as this schedules.yaml automation: its cadence overrides and, on a live send, its holdout groups.",
)
@click.option(
    "--shard",
    default=None,
    metavar="K/N",
    help="Send only shard K of N of a send already planned (with --limit 0): one contiguous range of "
    "its ledger rows, so N processes or machines send it in parallel, each resumable on its own. "
    "The first shard run fixes N for the send; the FCM rate limit is divided by N.",
)
@click.option("--dsn", default=None, help="Source database DSN for the token lookup (default ENGINE_SOURCE_DSN).")
@pass_cli
@handle_errors
def send(
    obj: CliContext,
    source: Path,
    template: str | None,
    title: str | None,
    body: str | None,
    deep_link: str | None,
    layer: int | None,
    test: bool,
    dry_run: bool,
    samples: int,
    limit: int | None,
    send_id: str | None,
    as_of: str | None,
    resend_in_flight: bool,
    max_in_doubt: int | None,
    automation: str | None,
    shard: str | None,
    dsn: str | None,
) -> None:
    """Send the pushes of SOURCE: a run folder (with --template) or a CSV (with --template, or ad hoc).

    \b
    engine send output/layer3_recent_activity/20261123_123000_ab12cd34 --template layer3_offer_creators
    engine send output/.../20261123_123000_ab12cd34 --template layer3_offer_creators --test
    engine send users.csv --title "Hi [[var:firstName]]" --body "..." --layer 1

    Each user gets one push: rows are rendered ([[var:column]], values URL-encoded in the deep
    link), filtered (missing values, cadence for live sends, device token, dead tokens) and written
    to the send ledger before anything is sent. Running the same command again resumes the same
    send and pushes only what is not sent yet; SIGTERM/Ctrl-C stop it cleanly. Needs
    ENGINE_STATE_DSN, ENGINE_SOURCE_DSN and ENGINE_FCM_CREDENTIALS (not for --dry-run).

    Cadence is a reservation: a live send filters its audience and claims those users in one
    step under a lock, so concurrent sends never both push a user past the rules. A crash (kill -9)
    leaves at most --max-in-doubt pushes in doubt; by default they are not sent again (at most
    once) and count for cadence; --resend-in-flight sends them again (at least once).

    Exit codes: 0 done (or --limit reached, or dry run), 1 something is left to resume
    (interrupted, aborted, retryable failures), 2 bad template/input/config, 3 database unreachable,
    4 completed with pushes in doubt (status completed_in_doubt).
    """
    if template and any(v is not None for v in (title, body, deep_link, layer)):
        raise click.UsageError("give --template, or --title/--body/--deep-link/--layer for an ad hoc push; not both")
    if not template and layer is None:
        raise click.UsageError("give --template NAME, or an ad hoc push with --title, --body and --layer")
    settings = obj.settings(source_dsn=dsn)
    request = SendRequest(
        source=source,
        template=template,
        title=title,
        body=body,
        deep_link=deep_link,
        layer=layer,
        test=test,
        dry_run=dry_run,
        limit=limit,
        send_id=send_id,
        as_of=parse_as_of(as_of) if as_of else None,
        resend_in_flight=resend_in_flight,
        automation=automation,
        max_in_doubt=max_in_doubt,
        shard=Shard.parse(shard) if shard else None,
        samples=samples,
    )
    stop = threading.Event()
    with _graceful_stop(stop), _progress(enabled=not obj.json_output and sys.stderr.isatty()) as on_progress:
        report = api.send(settings, request, stop=stop, on_progress=on_progress)
    if obj.json_output:
        emit_json(report.as_dict())
    else:
        _print_report(report)
    sys.exit(report.exit_code)


@contextmanager
def _graceful_stop(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and Ctrl-C set ``stop``: no new pushes start, those in flight are recorded.

    A second signal stops at once, like a crash: the ledger keeps the batches in flight as such.
    """

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo(
            f"{signal.Signals(signum).name}: finishing the pushes in flight, then stopping (again to stop at once)",
            err=True,
        )

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console  # noqa: PLC0415 (terminal only)
    from rich.progress import Progress  # noqa: PLC0415

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("sending", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _print_report(report: SendReport) -> None:
    colour = {
        "completed": "green",
        "limited": "green",
        "empty": "yellow",
        "dry_run": "cyan",
        "completed_in_doubt": "yellow",
    }.get(report.status.value, "red")
    shard = f" (shard {report.shard}: counts from 'targeted' on are its rows)" if report.shard else ""
    click.secho(f"send {report.send_id}{shard}: {report.status.value}", fg=colour, bold=True)
    click.echo(
        f"  {report.mode} push, layer {report.layer}, template {report.template or '(ad hoc)'}, "
        f"as of {report.as_of.isoformat()}{' (resumed)' if report.resumed else ''}"
    )
    click.echo(f"  source: {report.source}")
    lines = [
        ("CSV rows", report.total_rows),
        ("duplicate user rows", report.duplicates),
        ("empty user ids", report.empty_ids),
        ("invalid user ids", report.invalid_ids),
    ]
    lines += [(f"skipped: {reason}", n) for reason, n in sorted(report.skipped.items())]
    lines += [(f"cadence: {rule}", n) for rule, n in sorted(report.cadence_excluded.items())]
    lines += [("no device token", report.no_token), ("held out", report.held_out)]
    lines += [("targeted", report.targeted), ("sent", report.sent)]
    lines += [(f"failed: {code}", n) for code, n in sorted(report.failed.items())]
    lines += [
        ("in doubt", report.in_flight_unknown),
        ("left to send", report.remaining),
        ("retries made now", report.retried_now),
    ]
    for label, value in lines:
        if value or label in ("CSV rows", "targeted", "sent"):
            click.echo(f"  {label:32} {value:>10,}")
    if report.preview is not None:
        _print_preview(report.preview)
    for warning in report.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    click.secho(report.message, fg=None if report.exit_code == 0 else "red", err=report.exit_code != 0)


def _print_preview(preview: PushPreview) -> None:
    masked = f" ({', '.join(preview.masked)} masked)" if preview.masked else ""
    click.secho(f"  rendered pushes, {len(preview.samples)} of {preview.rows:,} rows{masked}:", bold=True)
    for sample in preview.samples:
        click.echo(f"    {sample.user_id}")
        click.echo(f"      title: {sample.title}")
        click.echo(f"      body:  {sample.body}")
        if sample.deep_link:
            click.echo(f"      link:  {sample.deep_link}")
    for bad in preview.bad:
        more = f", and {bad.count - len(bad.examples):,} more" if bad.count > len(bad.examples) else ""
        click.secho(
            f"  would render badly ({bad.reason}): {bad.count:,} row(s), e.g. {', '.join(bad.examples)}{more}",
            fg="yellow",
        )


COMMANDS = [send]
