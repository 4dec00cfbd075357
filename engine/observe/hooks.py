"""What run and send code calls when something happens: one call per event, everything else here.

Each hook logs one structured event, moves the metrics and queues alerts (never waiting on
the webhook). The run report is rewritten a layer up (``engine.report.after_run`` /
``after_send``, called by ``engine.api``), so the stages never import the report. Types are
duck-typed on purpose (``Any``): the stages import this module, not the other way round.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Mapping, Sequence

from engine.config import Settings
from engine.logs import log_context
from engine.observe import metrics
from engine.observe.alerts import Event, send_alert

log = logging.getLogger("engine.events")


def run_finished(settings: Settings, result: Any, *, automation: str | None = None) -> None:
    """An audience run ended (``RunResult``): metrics, one log event, a failure alert."""
    manifest = result.manifest
    status = result.status.value
    with log_context(run_id=result.run_id, audience=result.audience, automation=automation):
        metrics.RUNS.labels(result.audience, automation or "", status).inc()
        for step in manifest.steps:
            metrics.PHASE_SECONDS.labels(f"step:{step.step.split(':')[0]}").observe(step.seconds)
        if manifest.seconds is not None:
            metrics.PHASE_SECONDS.labels("run").observe(manifest.seconds)
        for output in manifest.production_outputs:
            metrics.AUDIENCE_SIZE.labels(result.audience, output.name).set(output.rows)
        if result.ok:
            metrics.LAST_SUCCESS.labels(automation or "", result.audience).set(time.time())
        log.info(
            "run %s",
            status,
            extra={
                "phase": "run",
                "event": "run_finished",
                "seconds": manifest.seconds,
                "errors": len(manifest.errors),
            },
        )
        if status == "failed":
            send_alert(
                settings.alert_webhook_url,
                Event.RUN_FAILED,
                f"run of {result.audience} failed: {'; '.join(manifest.errors)[:500]}",
                run_id=result.run_id,
                audience=result.audience,
                automation=automation or "",
            )


def batch_committed(record: Any, results: Sequence[Any]) -> None:
    """A batch of pushes got its FCM answers (``SendRecord``, ``ItemResult``s): counters and one log event."""
    sent = sum(1 for r in results if r.status == "sent")
    failed = Counter(r.code or "unknown" for r in results if r.status == "failed")
    metrics.PUSHES_SENT.labels(record.mode).inc(sent)
    for code, count in failed.items():
        metrics.PUSHES_FAILED.labels(code).inc(count)
    with log_context(run_id=record.run_id, audience=record.audience):
        log.info(
            "batch committed",
            extra={
                "phase": "send",
                "event": "batch",
                "send_id": record.send_id,
                "sent": sent,
                "failed": sum(failed.values()),
                "pending": len(results) - sent - sum(failed.values()),
            },
        )


def send_finished(settings: Settings, record: Any, report: Any, stats: Any) -> None:
    """A send ended (``SendRecord``, ``SendReport``, ``SenderStats``): counters, one log event, alerts."""
    metrics.RETRIES.inc(stats.retried)
    if not report.resumed:
        for rule, count in report.cadence_excluded.items():
            metrics.CADENCE_EXCLUDED.labels(rule).inc(count)
    metrics.PUSHES_IN_DOUBT.labels(record.audience or "").set(report.in_flight_unknown)
    outcomes = report.outcomes  # a push in doubt is not an FCM refusal: never in "failed" nor in the error rate
    with log_context(run_id=record.run_id, audience=record.audience):
        log.info(
            "send %s",
            report.status.value,
            extra={
                "phase": "send",
                "event": "send_finished",
                "send_id": record.send_id,
                "sent": outcomes.sent,
                "failed": outcomes.failed,
                "in_doubt": outcomes.in_doubt,
                "held_out": outcomes.held_out,
            },
        )
        where = {"send_id": record.send_id, "audience": record.audience or "", "run_id": record.run_id or ""}
        if report.in_flight_unknown:
            send_alert(
                settings.alert_webhook_url,
                Event.IN_DOUBT,
                f"{report.in_flight_unknown} push(es) of send {record.send_id} are in doubt",
                **where,
            )
        answered = outcomes.sent + outcomes.failed
        rate = outcomes.failed / answered * 100 if answered else 0.0
        if record.mode != "test" and rate > settings.alert_fcm_error_rate_pct:
            send_alert(
                settings.alert_webhook_url,
                Event.FCM_ERROR_RATE,
                f"FCM error rate {rate:.1f}% on send {record.send_id} (above {settings.alert_fcm_error_rate_pct:g}%)",
                **where,
                failed=report.refused,
            )


def automation_run_finished(automation: str, outcomes: Mapping[str, int]) -> None:
    """An automation run ended: its users by outcome (``Outcomes.as_dict()``; every outcome, 0 included)."""
    for outcome, count in outcomes.items():
        metrics.AUTOMATION_OUTCOMES.labels(automation, outcome).inc(count)


def scheduler_event(settings: Settings, event: Event, text: str, **details: Any) -> None:
    """For the scheduler: a missed run or a ``max_audience_size`` block (alert-worthy)."""
    send_alert(settings.alert_webhook_url, event, text, **details)


def config_error_changed(settings: Settings, file: str, message: str | None, *, alert: bool) -> None:
    """For the scheduler: ``file`` stopped loading (``message``, located) or loads again (None). Called once
    per change; ``alert`` for the one replica whose write changed the shared record."""
    metrics.CONFIG_ERROR.set(0 if message is None else 1)
    text = (
        f"{file} loads again; the scheduler runs it"
        if message is None
        else f"{file} does not load, the scheduler keeps running the last good definition: {message}"
    )
    if alert:
        send_alert(settings.alert_webhook_url, Event.CONFIG_ERROR, text, file=file)  # logs it once
    else:
        log.warning(text, extra={"event": Event.CONFIG_ERROR.value})


def stalled_jobs_recovered(count: int) -> None:
    """For the scheduler: jobs of a dead worker were taken over."""
    metrics.STALLED_RECOVERED.inc(count)
