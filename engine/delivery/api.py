"""``deliver``: push one template to one audience (``engine.api.send`` resolves the template and calls it).

Order matters for "nothing half-done": the template and CSV are checked completely first
(errors, nothing written); then the send's advisory lock is taken. A new send looks up the
device tokens and proves the FCM credentials with a real OAuth call, then, in one state
transaction under the cadence lock, reads the database clock, filters the audience against
cadence (counting other sends' claims) and freezes the plan in the ledger, whose rows are
this send's claims from then on. A known send is never re-planned: it resumes from its
ledger rows. Whatever fails after the lock, the send's row is left saying so (or, when the
state database itself is gone, engine.send_status derives it from the released lock).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import psycopg

from engine.cadence import CadenceConfig, effective_config, filter_audience, frozen_config, track_remote
from engine.cadence.lock import hold_cadence_lock
from engine.config import Settings
from engine.delivery.fcm import FcmClient
from engine.delivery.ledger import Ledger
from engine.delivery.model import (
    ALL_ROWS,
    ItemResult,
    ItemStatus,
    LedgerItem,
    PlanSummary,
    Send,
    SendRecord,
    SendStatus,
    Tally,
)
from engine.delivery.nostate import NOT_CHECKED, NoStateLedger
from engine.delivery.pacing import RetryPolicy
from engine.delivery.plan import Plan, plan_send
from engine.delivery.recipients import (
    Recipients,
    Source,
    read_recipients,
    resolve_source,
)
from engine.delivery.report import Counts, SendReport, message_of, status_of
from engine.delivery.request import SendRequest
from engine.delivery.sender import Sender, SenderStats
from engine.delivery.session import SendSession, close_fcm, fcm_loop, open_fcm, source_pool
from engine.delivery.tokens import lookup_tokens
from engine.errors import ConfigError, DatabaseUnavailable, DeliveryError, EngineError
from engine.observe import hooks
from engine.push.preview import preview
from engine.push.template import PushTemplate, check_columns, validate
from engine.secrets import mask_text
from engine.timeutil import utcnow

log = logging.getLogger("engine.delivery")

DEFAULT_RETRY = RetryPolicy()
_NO_RECIPIENTS = Recipients(sha256="", header=(), rows=(), total_rows=0, duplicates=0, empty_ids=0, invalid_ids=())


@dataclass(frozen=True)
class _Prepared:
    template: PushTemplate
    layer: int
    source: Source
    recipients: Recipients
    record: SendRecord
    cadence: CadenceConfig
    warnings: list[str] = field(default_factory=list)


def deliver(
    settings: Settings,
    request: SendRequest,
    template: PushTemplate,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    session: SendSession | None = None,
) -> SendReport:
    """Send (or resume, or dry-run) ``template`` to ``request.source``; see the module docstring.

    ``session``: the source pool and FCM client of the run this send belongs to (opened once for all
    its sends); without one, the send opens what it needs and closes it when done."""
    started = time.perf_counter()
    if request.limit is not None and request.limit < 0:
        raise ConfigError("--limit must be 0 or more")
    if request.as_of is not None and not request.dry_run:
        raise ConfigError(
            "--as-of is for dry runs only: a real send checks cadence and records its pushes at "
            "the real time (the state database's clock)",
            hint="drop --as-of, or add --dry-run to see what cadence would have allowed then",
        )
    if request.max_in_doubt is not None and request.max_in_doubt < 1:
        raise ConfigError("--max-in-doubt must be 1 or more")
    if request.shard is not None and (request.dry_run or request.limit is not None):
        raise ConfigError(
            "--shard sends one range of a planned send: not with --dry-run or --limit",
            hint="plan the send first with --limit 0 (no --shard), then run its shards",
        )
    prepared = _prepare(settings, request, template)
    if request.dry_run and not settings.state_dsn:  # issue 16: a dry run needs no state database
        ledger: Any = NoStateLedger()
        prepared.warnings.append(NOT_CHECKED)
    else:
        ledger = Ledger.connect(settings)
    try:
        return _send(
            settings,
            request,
            prepared,
            ledger,
            retry=retry,
            stop=stop,
            on_progress=on_progress,
            session=session,
            started=started,
        )
    except psycopg.OperationalError as err:
        raise DatabaseUnavailable(
            f"lost the state database during send {prepared.record.send_id!r}: "
            f"{mask_text(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)}",
            hint="resume with the same command once it is back; pushes that were in flight are treated "
            "as after a crash (see --resend-in-flight)",
        ) from None
    finally:
        ledger.close()


def _send(
    settings: Settings,
    request: SendRequest,
    prepared: _Prepared,
    ledger: Ledger,
    *,
    retry: RetryPolicy,
    stop: threading.Event | None,
    on_progress: Callable[[int, int], None] | None,
    session: SendSession | None,
    started: float,
) -> SendReport:
    send_id = prepared.record.send_id
    if not request.dry_run:
        ledger.lock(send_id, request.shard)
    existing = ledger.find(send_id)
    if existing:
        _check_same_send(existing, prepared)
    if request.shard is not None:
        if not existing:
            raise DeliveryError(
                f"send {send_id!r} is not planned yet: a shard sends only rows already planned",
                hint="plan it first: the same command with --limit 0 and no --shard",
            )
        ledger.pin_shards(send_id, request.shard.count)
    if request.dry_run:
        return _dry_run_report(settings, request, prepared, ledger, existing, session, started)
    try:
        return _run(
            settings,
            request,
            prepared,
            ledger,
            existing,
            retry=retry,
            stop=stop,
            on_progress=on_progress,
            session=session,
            started=started,
        )
    except BaseException as err:
        _leave_truthful(ledger, send_id, err, sharded=request.shard is not None)
        raise


def _run(
    settings: Settings,
    request: SendRequest,
    prepared: _Prepared,
    ledger: Ledger,
    existing: Send | None,
    *,
    retry: RetryPolicy,
    stop: threading.Event | None,
    on_progress: Callable[[int, int], None] | None,
    session: SendSession | None,
    started: float,
) -> SendReport:
    send_id = prepared.record.send_id
    client: FcmClient | None = None
    stats = SenderStats()
    seqs = request.shard.seq_range(ledger.seq_count(send_id)) if request.shard else ALL_ROWS
    try:
        if existing:
            in_flight, requeued = ledger.reopen(
                send_id, resend_in_flight=request.resend_in_flight, seqs=seqs, shared=request.shard is not None
            )
            _note_reopen(prepared, in_flight, requeued, request.resend_in_flight)
            summary = existing.plan
            prepared = replace(prepared, record=replace(prepared.record, as_of=existing.as_of))
        else:
            prepared, summary, client = _plan_and_claim(settings, request, prepared, ledger, session)
        todo = ledger.pending(send_id, request.limit, seqs)
        if todo and session is not None:
            stats = _run_sender(
                settings, session.fcm, session.loop, ledger, prepared, request, todo, retry, stop, on_progress
            )
        elif todo:
            owned, client = client or open_fcm(settings), None
            with fcm_loop(owned) as loop:  # closes it
                stats = _run_sender(settings, owned, loop, ledger, prepared, request, todo, retry, stop, on_progress)
    finally:
        if client is not None:
            close_fcm(client)
    report = _report(
        prepared, request, ledger.tally(send_id, seqs), summary, stats, resumed=existing is not None, started=started
    )
    if request.shard is None:
        ledger.finish(send_id, report.status, stats.abort)
    else:  # the shard's report is its own rows; the send's status is the whole send's, by the last shard out

        def whole_send() -> tuple[SendStatus, str | None]:
            counts = Counts.of(ledger.tally(send_id), summary)
            return status_of(counts, stats, empty=prepared.source.csv is None, limited=False), stats.abort

        ledger.finish_shard(send_id, whole_send)
    hooks.send_finished(settings, prepared.record, report, stats)  # metrics, alerts, the run's report
    log.info(
        "send %s %s: %s",
        send_id,
        report.status.value,
        report.message,
        extra={"sent_now": report.sent_now, "remaining": report.remaining, "in_doubt": report.in_flight_unknown},
    )
    return report


def _leave_truthful(ledger: Ledger, send_id: str, err: BaseException, *, sharded: bool) -> None:
    """After a failure, the send's row says it stopped and why (when the state database still answers);
    a failed shard says so only as the last shard out (the others are still sending)."""
    status = SendStatus.ABORTED if isinstance(err, EngineError) else SendStatus.INTERRUPTED
    detail = err.message if isinstance(err, EngineError) else type(err).__name__
    try:
        if sharded:
            ledger.finish_shard(send_id, lambda: (status, mask_text(detail)[:500]))
        else:
            ledger.finish(send_id, status, mask_text(detail)[:500])
    except psycopg.Error:
        pass  # connection gone: the lock went with it, and engine.send_status says 'interrupted'


def _prepare(settings: Settings, request: SendRequest, template: PushTemplate) -> _Prepared:
    """Template, layer, source and CSV, all checked before anything touches a database."""
    validate(template, settings.deep_link_hosts)
    layer = settings.test_layer if request.test else template.layer
    cadence = _cadence_config(settings, request)
    cadence.layer(layer)  # unknown layer: ConfigError
    source = resolve_source(Path(request.source), template, test=request.test)
    recipients = read_recipients(source.csv) if source.csv else _NO_RECIPIENTS
    if source.csv:
        check_columns(template, recipients.header, str(source.csv))
    mode = "test" if request.test else ("adhoc" if template.name is None else "live")
    send_id = request.send_id or _derive_send_id(template, source, recipients, mode)
    if source.run_id:
        description = f"Run {source.run_id}: {source.audience}.{source.output}" + (" (TEST)" if request.test else "")
    else:
        description = f"CSV: {Path(request.source).name}"
    record = SendRecord(
        send_id=send_id,
        mode=mode,
        layer_id=layer,
        source_file=str(source.csv or request.source),
        source_sha256=recipients.sha256,
        template_sha256=template.fingerprint(),
        as_of=request.as_of or utcnow(),
        audience_description=description,
        run_id=source.run_id or None,
        template=template.name,
        audience=source.audience,
        output=source.output,
    )
    return _Prepared(template, layer, source, recipients, record, cadence)


def _cadence_config(settings: Settings, request: SendRequest) -> CadenceConfig:
    """The project's cadence rules with the automation's overrides: as its run froze them, else as the file has them."""
    if request.cadence_override is None:
        return effective_config(settings.project_dir, request.automation)
    return frozen_config(settings.project_dir, request.automation, request.cadence_override)


def _derive_send_id(template: PushTemplate, source: Source, recipients: Recipients, mode: str) -> str:
    """Same run + template + mode, or same CSV bytes + push, is the same send."""
    if source.run_id:
        return f"{source.run_id}:{template.name}:{mode}"
    push = template.name or template.fingerprint()[:12]
    return f"csv-{recipients.sha256[:16]}:{push}:{mode}"


def _check_same_send(existing: Send, prepared: _Prepared) -> None:
    record = prepared.record
    if existing.source_sha256 != record.source_sha256 or existing.template_sha256 != record.template_sha256:
        what = "CSV" if existing.source_sha256 != record.source_sha256 else "push template"
        raise DeliveryError(
            f"send {record.send_id!r} exists but was planned from a different {what}",
            hint="resume it with the original input, or pass a new --send-id for a new send",
        )


def _tokens(
    settings: Settings, request: SendRequest, prepared: _Prepared, session: SendSession | None
) -> dict[str, str]:
    """Every recipient's device token, looked up before the cadence lock is taken (it waits on nobody).

    A live send (not a dry run, not a TEST send) refuses a source role that can write or reach server files
    before it runs any SQL there (``engine.db.role_check``).
    """
    ids = [user_id for user_id, _ in prepared.recipients.rows]
    if not ids:
        return {}
    if session is not None:
        return lookup_tokens(session.pool, settings.project_dir / "sql", ids)
    with source_pool(settings, live=not (request.dry_run or request.test)) as own:
        return lookup_tokens(own, settings.project_dir / "sql", ids)


def _plan(
    settings: Settings,
    request: SendRequest,
    prepared: _Prepared,
    ledger: Ledger,
    found: dict[str, str],
    as_of: datetime,
) -> Plan:
    cadence = (
        None
        if request.test or ledger.conn is None
        else (
            lambda ids: filter_audience(
                settings,
                ids,
                prepared.layer,
                as_of,
                state_conn=ledger.conn,
                config=prepared.cadence,
                live=not request.dry_run,
            )
        )
    )
    test_users = {str(u.get("user_id", "")).lower() for u in settings.test_users} if request.test else None
    return plan_send(
        prepared.template,
        prepared.recipients,
        allowed_hosts=settings.deep_link_hosts,
        test_users=test_users,
        cadence=cadence,
        tokens=lambda ids: {uid: found[uid] for uid in ids if uid in found},
        dead_tokens=ledger.dead_tokens,
        holdouts=() if request.test or prepared.record.mode != "live" else (request.holdouts or ()),
    )


def _plan_and_claim(
    settings: Settings, request: SendRequest, prepared: _Prepared, ledger: Ledger, session: SendSession | None
) -> tuple[_Prepared, PlanSummary, FcmClient | None]:
    """Plan a new send and freeze it (its claims) in one transaction under the cadence lock.

    Returns the FCM client this send opened (None with a session, whose client proved the credentials
    when it opened)."""
    found = _tokens(settings, request, prepared, session)
    client = open_fcm(settings) if found and session is None else None  # prove the credentials before the plan
    try:
        with ledger.conn.transaction():
            clock = hold_cadence_lock(ledger.conn)
            prepared = replace(prepared, record=replace(prepared.record, as_of=clock))
            plan = _plan(settings, request, prepared, ledger, found, clock)
            ledger.create(prepared.record, plan.items, plan.summary)
    except BaseException:
        if client is not None:
            close_fcm(client)
        raise
    return prepared, plan.summary, client


class _LedgerSink:
    """The sender's commit sink: this send's ledger rows, plus remote tracking when cadence is remote."""

    def __init__(self, settings: Settings, ledger: Ledger, record: SendRecord) -> None:
        self._settings = settings
        self._ledger = ledger
        self._record = record

    def commit(self, results: Sequence[ItemResult], claim: Sequence[LedgerItem]) -> None:
        sent = self._ledger.commit(self._record, results, claim)
        hooks.batch_committed(self._record, results)
        if sent and self._settings.cadence_mode == "remote":
            track_remote(self._settings, sent)


def _run_sender(
    settings: Settings,
    client: FcmClient,
    loop: asyncio.Runner,
    ledger: Ledger,
    prepared: _Prepared,
    request: SendRequest,
    todo: list[LedgerItem],
    retry: RetryPolicy,
    stop: threading.Event | None,
    on_progress: Callable[[int, int], None] | None,
) -> SenderStats:
    """Send ``todo`` through ``client`` on ``loop``, the event loop its connections live in (the caller closes it)."""
    logged = [0]

    def progress(stats: SenderStats) -> None:
        done = stats.done + stats.deferred
        if on_progress:
            on_progress(done, len(todo))
        if done * 10 // len(todo) > logged[0]:  # a log line per tenth, for runs without a terminal
            logged[0] = done * 10 // len(todo)
            log.info(
                "send %s: %d of %d done",
                prepared.record.send_id,
                done,
                len(todo),
                extra={"sent_now": stats.sent, "retries_now": stats.retried},
            )

    shards = request.shard.count if request.shard else 1  # the project's FCM quota, shared by the shards
    sender = Sender(
        client,
        _LedgerSink(settings, ledger, prepared.record),
        run_id=prepared.record.send_id,
        concurrency=settings.fcm_concurrency,
        rate_per_minute=max(1, settings.fcm_rate_per_minute // shards),
        policy=retry,
        window=request.max_in_doubt,
        stop=stop,
        on_commit=progress,
    )
    return loop.run(sender.run(todo))


def _note_reopen(prepared: _Prepared, in_flight: int, requeued: int, resend: bool) -> None:
    if in_flight:
        prepared.warnings.append(
            f"{in_flight} push(es) were in flight when an earlier attempt stopped: "
            + (
                "queued again (at least once; clients can drop repeats by data.run_id)"
                if resend
                else "they may have been delivered, so they are not sent again (at most once) and count for cadence; "
                "pass --resend-in-flight to send them again"
            )
        )
    if requeued:
        prepared.warnings.append(f"{requeued} push(es) that failed with a retryable error are retried")


def _report(
    prepared: _Prepared,
    request: SendRequest,
    tally: Tally,
    summary: PlanSummary,
    stats: SenderStats,
    *,
    resumed: bool,
    started: float,
    status: SendStatus | None = None,
) -> SendReport:
    counts = Counts.of(tally, summary)
    status = status or status_of(counts, stats, empty=prepared.source.csv is None, limited=request.limit is not None)
    warnings = list(prepared.warnings) + list(summary.cadence.warnings)
    return SendReport(
        send_id=prepared.record.send_id,
        status=status,
        mode=prepared.record.mode,
        layer=prepared.layer,
        template=prepared.template.name,
        source=prepared.record.source_file,
        as_of=prepared.record.as_of,
        resumed=resumed,
        **counts.fields(),
        sent_now=stats.sent,
        retried_now=stats.retried,
        dead_tokens_now=stats.dead_tokens,
        commits_now=stats.commits,
        max_in_doubt_now=stats.max_unrecorded,
        message=message_of(status, counts, stats),
        warnings=tuple(warnings),
        seconds=round(time.perf_counter() - started, 3),
        shard=str(request.shard) if request.shard else None,
    )


def _dry_run_report(
    settings: Settings,
    request: SendRequest,
    prepared: _Prepared,
    ledger: Ledger,
    existing: Send | None,
    session: SendSession | None,
    started: float,
) -> SendReport:
    """Render, filter and count without calling FCM or writing anything (no credentials needed)."""
    if existing:
        tally, summary = ledger.tally(prepared.record.send_id), existing.plan
        prepared.warnings.append(f"send exists (status {existing.status}): a real run resumes it")
    else:
        found = _tokens(settings, request, prepared, session)
        plan = _plan(settings, request, prepared, ledger, found, prepared.record.as_of)
        rows: dict[tuple[ItemStatus, str | None, bool], int] = {}
        for item in plan.items:
            rows[(item.status, item.reason, False)] = rows.get((item.status, item.reason, False), 0) + 1
        tally, summary = Tally(rows), plan.summary
    if request.limit is not None:
        prepared.warnings.append(f"--limit {request.limit}: a real run would send at most that many now")
    report = _report(
        prepared,
        request,
        tally,
        summary,
        SenderStats(),
        resumed=existing is not None,
        started=started,
        status=SendStatus.DRY_RUN,
    )
    return replace(
        report,
        preview=preview(
            prepared.template,
            prepared.recipients.rows,
            header=prepared.recipients.header,
            samples=request.samples,
            pii=settings.report_pii_columns,
            allowed_hosts=settings.deep_link_hosts,
        ),
    )
