"""Webhook alerts (Slack-compatible JSON), posted by a background thread with retries and full-jitter backoff.

``post`` only queues: a send or a run never waits for the webhook. A process that exits
gives the queue a few seconds to drain (atexit), so a failed ``engine run`` still alerts.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from engine.observe import metrics

log = logging.getLogger("engine.alerts")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: try ``attempts`` times, waiting up to base * 2^n (capped)."""

    attempts: int = 5
    base_s: float = 1.0
    cap_s: float = 30.0

    def retrying(self) -> Retrying:
        """One alert's attempts: an undelivered one is tried again until the last attempt."""
        return Retrying(
            stop=stop_after_attempt(self.attempts),
            reraise=True,
            wait=wait_random_exponential(multiplier=self.base_s, max=self.cap_s),
            retry=retry_if_exception_type(_NotDelivered),
        )


class _NotDelivered(Exception):
    """The webhook refused the alert or could not be reached."""


POLICY = Backoff()
DRAIN_AT_EXIT_S = 10.0


class Event(str, Enum):
    RUN_FAILED = "run_failed"
    MISSED_RUN = "missed_run"
    AUDIENCE_BLOCKED = "max_audience_size_blocked"
    IN_DOUBT = "pushes_in_doubt"
    FCM_ERROR_RATE = "fcm_error_rate"
    CONFIG_ERROR = "config_error"


@dataclass(frozen=True)
class Alert:
    event: Event
    text: str
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """Slack's incoming-webhook shape: ``text`` plus one attachment whose fields carry the details."""
        return {
            "text": f":rotating_light: audience-engine: {self.text}",
            "attachments": [
                {
                    "title": self.event.value,
                    "color": "danger",
                    "fallback": self.text,
                    "fields": [{"title": k, "value": str(v), "short": True} for k, v in self.details.items()],
                }
            ],
        }


class Alerter:
    """One background thread per process and webhook URL, fed by a queue."""

    def __init__(self, url: str, *, policy: Backoff = POLICY, timeout_s: float = 10.0) -> None:
        self.url = url
        self._policy = policy
        self._timeout = timeout_s
        self._queue: queue.Queue[Alert] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="engine-alerts", daemon=True)
        self._thread.start()

    def post(self, alert: Alert) -> None:
        self._queue.put(alert)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every queued alert was delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self._queue.unfinished_tasks

    def _loop(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while True:
                alert = self._queue.get()
                try:
                    self._deliver(client, alert)
                finally:
                    self._queue.task_done()

    def _deliver(self, client: httpx.Client, alert: Alert) -> None:
        """Post ``alert`` with retries; the outcome is logged and counted, never raised."""
        retrying = self._policy.retrying()
        try:
            retrying(self._post_once, client, alert)
        except _NotDelivered as problem:
            metrics.ALERTS.labels(alert.event.value, "given_up").inc()
            log.error(
                "alert not delivered: %s after %d attempts",
                problem,
                retrying.statistics["attempt_number"],
                extra={"event": alert.event.value},
            )
            return
        metrics.ALERTS.labels(alert.event.value, "delivered").inc()
        log.info(
            "alert delivered", extra={"event": alert.event.value, "attempts": retrying.statistics["attempt_number"]}
        )

    def _post_once(self, client: httpx.Client, alert: Alert) -> None:
        try:
            response = client.post(self.url, json=alert.payload())
        except httpx.HTTPError as err:
            raise _NotDelivered(type(err).__name__) from None
        if response.status_code >= 300:
            raise _NotDelivered(f"HTTP {response.status_code}")


_alerters: dict[str, Alerter] = {}
_lock = threading.Lock()


def alerter_for(url: str) -> Alerter:
    with _lock:
        if url not in _alerters:
            if not _alerters:
                atexit.register(lambda: [a.drain(DRAIN_AT_EXIT_S) for a in list(_alerters.values())])
            _alerters[url] = Alerter(url)
        return _alerters[url]


def send_alert(url: str | None, event: Event, text: str, **details: Any) -> None:
    """Queue an alert for ``url`` (the configured webhook); nothing when no webhook is configured."""
    log.warning("alert: %s", text, extra={"event": event.value})
    if url:
        alerter_for(url).post(Alert(event, text, details))
