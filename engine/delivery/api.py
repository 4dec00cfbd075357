"""``send``: the one entry point for pushing an audience (the CLI, the demo and the scheduler call it).

Order matters for "nothing half-done": the template and CSV are checked completely first
(errors, nothing written); then the send's advisory lock is taken; a new send is planned
(cadence, tokens) without writing, FCM credentials are proven with a real OAuth call, and
only then is the plan frozen in the ledger and the sending started. A known send is never
re-planned: it resumes from its ledger rows.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import psycopg

from engine.cadence import effective_config, filter_audience, track_remote
from engine.config import Settings
from engine.db import SourcePool
from engine.delivery.catalog import adhoc_template, load_template
from engine.delivery.fcm import FcmClient
from engine.delivery.ledger import ItemResult, Ledger, LedgerItem, SendRecord, Tally
from engine.delivery.pacing import RetryPolicy
from engine.delivery.plan import Plan, plan_send
from engine.delivery.recipients import Recipients, Source, read_recipients, resolve_source
from engine.delivery.report import Counts, SendReport
from engine.delivery.sender import MAX_BATCH, Sender, SenderStats
from engine.delivery.template import PushTemplate, TemplateError, check_columns, validate
from engine.delivery.tokens import lookup_tokens
from engine.errors import DatabaseUnavailable, DeliveryError
from engine.outputs.testrows import FOUNDER
from engine.secrets import mask_text
from engine.timeutil import utcnow

log = logging.getLogger("engine.delivery")

TEST_LAYER = 4
DEFAULT_RETRY = RetryPolicy()
_NO_RECIPIENTS = Recipients(sha256="", header=(), rows=(), total_rows=0, duplicates=0, empty_ids=0, invalid_ids=())


@dataclass(frozen=True)
class SendRequest:
    """One send: a run folder or CSV plus a named template, or an ad hoc title/body/link/layer."""

    source: Path
    template: str | None = None
    title: str | None = None
    body: str | None = None
    deep_link: str | None = None
    layer: int | None = None
    test: bool = False
    dry_run: bool = False
    limit: int | None = None
    send_id: str | None = None
    as_of: datetime | None = None
    resend_in_flight: bool = False
    automation: str | None = None


@dataclass(frozen=True)
class _Prepared:
    template: PushTemplate
    layer: int
    source: Source
    recipients: Recipients
    record: SendRecord
    warnings: list[str] = field(default_factory=list)


def send(settings: Settings, request: SendRequest, *, retry: RetryPolicy = DEFAULT_RETRY,
         batch_size: int = MAX_BATCH, stop: threading.Event | None = None,
         on_progress: Callable[[int, int], None] | None = None, pool: SourcePool | None = None) -> SendReport:
    """Send (or resume, or dry-run) one push to one audience; see the module docstring."""
    started = time.perf_counter()
    prepared = _prepare(settings, request)
    if request.limit is not None and request.limit < 0:
        raise DeliveryError("--limit must be 0 or more")
    ledger = Ledger.connect(settings)
    try:
        return _send(settings, request, prepared, ledger, retry=retry, batch_size=batch_size, stop=stop,
                     on_progress=on_progress, pool=pool, started=started)
    except psycopg.OperationalError as err:
        raise DatabaseUnavailable(
            f"lost the state database during send {prepared.record.send_id!r}: "
            f"{mask_text(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)}",
            hint="resume with the same command once it is back; pushes that were in flight are treated "
                 "as after a crash (see --resend-in-flight)") from None
    finally:
        ledger.close()


def _send(settings: Settings, request: SendRequest, prepared: _Prepared, ledger: Ledger, *, retry: RetryPolicy,
          batch_size: int, stop: threading.Event | None, on_progress: Callable[[int, int], None] | None,
          pool: SourcePool | None, started: float) -> SendReport:
    send_id = prepared.record.send_id
    if not request.dry_run:
        ledger.lock(send_id)
    existing = ledger.find(send_id)
    if existing:
        _check_same_send(existing, prepared)
    if request.dry_run:
        return _dry_run_report(settings, request, prepared, ledger, existing, pool, started)
    client: FcmClient | None = None
    try:
        if existing:
            in_flight, requeued = ledger.reopen(send_id, resend_in_flight=request.resend_in_flight)
            _note_reopen(prepared, in_flight, requeued, request.resend_in_flight)
            summary = existing["plan"]
        else:
            plan = _plan(settings, request, prepared, ledger, pool)
            if plan.pending:
                client = _open_fcm(settings)        # prove the credentials before freezing the plan
            ledger.create(prepared.record, plan.items, plan.summary)
            summary = plan.summary
        todo = ledger.pending(send_id, request.limit)
        stats = SenderStats()
        if todo:
            owned, client = client or _open_fcm(settings), None     # _run_sender closes it
            stats = _run_sender(settings, owned, ledger, prepared, todo, retry=retry, batch_size=batch_size,
                                stop=stop, on_progress=on_progress)
    finally:
        if client is not None:
            asyncio.run(client.aclose())
            client.close()
    report = _report(prepared, request, ledger.tally(send_id), summary, stats, resumed=existing is not None,
                     started=started)
    ledger.finish(send_id, report.status, stats.abort)
    log.info("send %s %s: %s", send_id, report.status, report.message,
             extra={"sent_now": report.sent_now, "remaining": report.remaining})
    return report


def _prepare(settings: Settings, request: SendRequest) -> _Prepared:
    """Template, layer, source and CSV, all checked before anything touches a database."""
    adhoc = any(v is not None for v in (request.title, request.body, request.deep_link, request.layer))
    if request.template and adhoc:
        raise TemplateError("give either a template name or an ad hoc --title/--body/--deep-link/--layer, not both")
    template = (load_template(settings.project_dir, request.template) if request.template else
                adhoc_template(title=request.title, body=request.body, deep_link=request.deep_link,
                               layer=request.layer))
    validate(template, settings.deep_link_hosts)
    layer = TEST_LAYER if request.test else template.layer
    effective_config(settings.project_dir, request.automation).layer(layer)   # unknown layer: ConfigError
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
        send_id=send_id, mode=mode, layer_id=layer, source_file=str(source.csv or request.source),
        source_sha256=recipients.sha256, template_sha256=template.fingerprint(),
        as_of=request.as_of or utcnow(), audience_description=description, run_id=source.run_id or None,
        template=template.name, audience=source.audience, output=source.output)
    return _Prepared(template, layer, source, recipients, record)


def _derive_send_id(template: PushTemplate, source: Source, recipients: Recipients, mode: str) -> str:
    """Same run + template + mode, or same CSV bytes + push, is the same send."""
    if source.run_id:
        return f"{source.run_id}:{template.name}:{mode}"
    push = template.name or template.fingerprint()[:12]
    return f"csv-{recipients.sha256[:16]}:{push}:{mode}"


def _check_same_send(existing: dict[str, Any], prepared: _Prepared) -> None:
    record = prepared.record
    if existing["source_sha256"] != record.source_sha256 or existing["template_sha256"] != record.template_sha256:
        what = "CSV" if existing["source_sha256"] != record.source_sha256 else "push template"
        raise DeliveryError(f"send {record.send_id!r} exists but was planned from a different {what}",
                            hint="resume it with the original input, or pass a new --send-id for a new send")


def _plan(settings: Settings, request: SendRequest, prepared: _Prepared, ledger: Ledger,
          pool: SourcePool | None) -> Plan:
    if pool is None and prepared.recipients.rows:
        with SourcePool(settings.require_source_dsn(), size=1, retries=settings.connect_retries,
                        statement_timeout_s=settings.statement_timeout_s) as own:
            return _plan(settings, request, prepared, ledger, own)
    as_of = prepared.record.as_of
    cadence = None if request.test else (
        lambda ids: filter_audience(settings, ids, prepared.layer, as_of, state_conn=ledger.conn,
                                    automation=request.automation))
    test_users = ({str(u.get("user_id", "")).lower() for u in (settings.test_users or (FOUNDER,))}
                  if request.test else None)
    sql_root = settings.project_dir / "sql"
    return plan_send(prepared.template, prepared.recipients, allowed_hosts=settings.deep_link_hosts,
                     test_users=test_users, cadence=cadence,
                     tokens=lambda ids: lookup_tokens(pool, sql_root, ids),  # type: ignore[arg-type]
                     dead_tokens=ledger.dead_tokens)


def _open_fcm(settings: Settings) -> FcmClient:
    return FcmClient.open(settings.fcm_credentials, settings.fcm_endpoint, connections=settings.fcm_concurrency)


class _LedgerSink:
    """The sender's batch sink: this send's ledger rows, plus remote tracking when cadence is remote."""

    def __init__(self, settings: Settings, ledger: Ledger, record: SendRecord) -> None:
        self._settings = settings
        self._ledger = ledger
        self._record = record

    def claim(self, items: Sequence[LedgerItem]) -> None:
        self._ledger.claim(self._record.send_id, items)

    def commit(self, results: Sequence[ItemResult]) -> None:
        sent = self._ledger.record(self._record, results, sent_at=self._record.as_of)
        if sent and self._settings.cadence_mode == "remote":
            track_remote(self._settings, sent)


def _run_sender(settings: Settings, client: FcmClient, ledger: Ledger, prepared: _Prepared,
                todo: list[LedgerItem], *, retry: RetryPolicy, batch_size: int, stop: threading.Event | None,
                on_progress: Callable[[int, int], None] | None) -> SenderStats:
    logged = [0]

    def progress(stats: SenderStats) -> None:
        done = stats.done + stats.deferred
        if on_progress:
            on_progress(done, len(todo))
        if done * 10 // len(todo) > logged[0]:       # a log line per tenth, for runs without a terminal
            logged[0] = done * 10 // len(todo)
            log.info("send %s: %d of %d done", prepared.record.send_id, done, len(todo),
                     extra={"sent_now": stats.sent, "retries_now": stats.retried})

    sender = Sender(client, _LedgerSink(settings, ledger, prepared.record), run_id=prepared.record.send_id,
                    concurrency=settings.fcm_concurrency, rate_per_minute=settings.fcm_rate_per_minute,
                    policy=retry, batch_size=batch_size, stop=stop, on_batch=progress)

    async def drive() -> SenderStats:
        try:
            return await sender.run(todo)
        finally:
            await client.aclose()

    try:
        return asyncio.run(drive())
    finally:
        client.close()


def _note_reopen(prepared: _Prepared, in_flight: int, requeued: int, resend: bool) -> None:
    if in_flight:
        prepared.warnings.append(
            f"{in_flight} push(es) were in flight when an earlier attempt stopped: " +
            ("queued again (at least once; clients can drop repeats by data.run_id)" if resend else
             "they may have been delivered, so they are not sent again (at most once); "
             "pass --resend-in-flight to send them again"))
    if requeued:
        prepared.warnings.append(f"{requeued} push(es) that failed with a retryable error are retried")


def _report(prepared: _Prepared, request: SendRequest, tally: Tally, summary: dict[str, Any], stats: SenderStats,
            *, resumed: bool, started: float, status: str | None = None) -> SendReport:
    counts = Counts.of(tally, summary)
    status = status or _status(prepared, request, counts, stats)
    warnings = list(prepared.warnings) + list(summary.get("cadence", {}).get("warnings", []))
    return SendReport(
        send_id=prepared.record.send_id, status=status, mode=prepared.record.mode, layer=prepared.layer,
        template=prepared.template.name, source=prepared.record.source_file, as_of=prepared.record.as_of,
        resumed=resumed, **counts.fields(), sent_now=stats.sent, retried_now=stats.retried,
        dead_tokens_now=stats.dead_tokens, batches_now=tuple(stats.batches), message=_message(status, counts, stats),
        warnings=tuple(warnings), seconds=round(time.perf_counter() - started, 3))


def _status(prepared: _Prepared, request: SendRequest, counts: Counts, stats: SenderStats) -> str:
    if prepared.source.csv is None or counts.total_rows == 0:
        return "empty"
    if stats.abort:
        return "aborted"
    if stats.interrupted and counts.remaining:
        return "interrupted"
    if not counts.remaining:
        return "completed"
    return "limited" if request.limit is not None and not stats.retry_later else "partial"


def _message(status: str, counts: Counts, stats: SenderStats) -> str:
    done = f"{stats.sent} sent now, {counts.sent} of {counts.targeted} sent in total"
    return {
        "completed": f"{done}; nothing left to send",
        "limited": f"{done}; --limit reached, {counts.remaining} left: run the same command to continue",
        "partial": f"{done}; {counts.remaining} failed with retryable errors or are still pending: "
                   "run the same command again to retry them",
        "interrupted": f"stopped by a signal: {done}, {counts.remaining} left: resume with the same command",
        "aborted": f"aborted: {stats.abort}; {done}, {counts.remaining} left: fix the cause, then resume "
                   "with the same command",
        "empty": "the audience is empty: nothing to send",
        "dry_run": f"dry run: {counts.remaining} push(es) would be sent "
                   f"({counts.sent} already sent by earlier runs of this send)",
    }[status]


def _dry_run_report(settings: Settings, request: SendRequest, prepared: _Prepared, ledger: Ledger,
                    existing: dict[str, Any] | None, pool: SourcePool | None, started: float) -> SendReport:
    """Render, filter and count without calling FCM or writing anything (no credentials needed)."""
    if existing:
        tally, summary = ledger.tally(prepared.record.send_id), existing["plan"]
        prepared.warnings.append(f"send exists (status {existing['status']}): a real run resumes it")
    else:
        plan = _plan(settings, request, prepared, ledger, pool)
        rows: dict[tuple[str, str | None, bool], int] = {}
        for item in plan.items:
            rows[(item.status, item.reason, False)] = rows.get((item.status, item.reason, False), 0) + 1
        tally, summary = Tally(rows), plan.summary
    if request.limit is not None:
        prepared.warnings.append(f"--limit {request.limit}: a real run would send at most that many now")
    return _report(prepared, request, tally, summary, SenderStats(), resumed=existing is not None,
                   started=started, status="dry_run")
