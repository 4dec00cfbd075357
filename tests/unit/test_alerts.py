"""The alert webhook's retries against a real local HTTP server: bounded, jittered, never raised into a run."""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from engine.observe.alerts import Alert, Alerter, Backoff, Event

FAST = Backoff(attempts=3, base_s=0.01, cap_s=0.05)


class _Hook(BaseHTTPRequestHandler):
    """Refuses the first ``refusals`` posts with 503, then records each body with 200."""

    refusals = 0
    posts: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Hook.posts.append(body)
        refused = len(_Hook.posts) <= _Hook.refusals
        self.send_response(503 if refused else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.refusals, _Hook.posts = 0, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def alert_log() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("engine.alerts")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)


def _post(url: str) -> None:
    alerter = Alerter(url, policy=FAST)
    alerter.post(Alert(Event.RUN_FAILED, "run r1 failed", {"run_id": "r1"}))
    assert alerter.drain(10)


def test_a_refused_alert_is_retried_until_delivered(hook: str, alert_log: list[logging.LogRecord]) -> None:
    _Hook.refusals = 2
    _post(hook)
    assert len(_Hook.posts) == 3 and _Hook.posts[0] == _Hook.posts[2]  # the same alert, tried 3 times
    assert [r.getMessage() for r in alert_log] == ["alert delivered"] and alert_log[0].attempts == 3


def test_an_alert_refused_every_time_is_given_up_after_the_policy_s_attempts(
    hook: str, alert_log: list[logging.LogRecord]
) -> None:
    _Hook.refusals = 10
    _post(hook)
    assert len(_Hook.posts) == FAST.attempts
    assert [r.getMessage() for r in alert_log] == ["alert not delivered: HTTP 503 after 3 attempts"]


def test_an_unreachable_webhook_is_given_up_without_raising(alert_log: list[logging.LogRecord]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _post(f"http://127.0.0.1:{port}/hook")
    assert [r.getMessage() for r in alert_log] == ["alert not delivered: ConnectError after 3 attempts"]
