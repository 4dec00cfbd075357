"""Remote mode against a real local HTTP server speaking the original service's API."""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
from fake_cadence_service import FakeCadenceService

from engine.cadence import SentPush, filter_audience, track_remote
from engine.config import Settings
from engine.errors import DeliveryError

AS_OF = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
U1 = "6f1c1e8a-3b7e-4c5d-9a2b-000000000001"
U2 = "6f1c1e8a-3b7e-4c5d-9a2b-000000000002"
U3_V7 = "01890a5d-ac96-774b-bcce-b302099a8057"  # a valid UUID, version 7: the original drops it


def settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "project_dir": tmp_path,
        "cadence_mode": "remote",
        "cadence_url": url,
        "cadence_timeout_s": 0.3,
        "cadence_retries": 1,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def cadence_log() -> Iterator[list[logging.LogRecord]]:
    """Records of the engine.cadence logger (a handler of our own: the CLI may turn propagation off)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("engine.cadence")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_success_excluded_ids_count_under_remote(tmp_path: Path) -> None:
    with FakeCadenceService(blocked={U2}) as service:
        decision = filter_audience(settings(tmp_path, service.url), [U1, U2, U3_V7, "bad", U1], 3, AS_OF)
    # the service got the valid ids once each, in order; "bad" never left the engine
    assert service.requests == [("/api/filter-audience", {"userIds": [U1, U2, U3_V7], "layerId": 3})]
    assert decision.eligible == [U1]
    assert decision.excluded == {"remote": [U2, U3_V7]}  # blocked + silently dropped v7
    assert decision.invalid_ids == ["bad"]
    assert (decision.mode, decision.failed_open) == ("remote", False)
    assert decision.warnings == ["1 id(s) are not valid UUIDs and were excluded"]


def test_exempt_and_test_layers_never_call_the_service(tmp_path: Path) -> None:
    with FakeCadenceService() as service:
        exempt = filter_audience(settings(tmp_path, service.url), [U1], 1, AS_OF)
        bypass = filter_audience(settings(tmp_path, service.url), [U1], 4, AS_OF)
    assert service.requests == []
    assert (exempt.mode, exempt.eligible, bypass.mode, bypass.eligible) == ("exempt", [U1], "bypass", [U1])


def test_timeout_fails_open_loudly(tmp_path: Path, cadence_log: list[logging.LogRecord]) -> None:
    with FakeCadenceService(delay_s=1.0) as service:
        decision = filter_audience(settings(tmp_path, service.url), [U1, U2], 3, AS_OF)
    assert len(service.requests) == 2  # one try + one retry, each timed out at 0.3 s
    assert decision.eligible == [U1, U2] and decision.failed_open
    assert decision.excluded == {"remote": []}
    assert "FAILING OPEN" in decision.warnings[0] and "Timeout" in decision.warnings[0]
    assert any(r.levelno == logging.WARNING and "FAILING OPEN" in r.getMessage() for r in cadence_log)


def test_http_500_fails_open_after_bounded_retries(tmp_path: Path) -> None:
    with FakeCadenceService(fail_status=500) as service:
        decision = filter_audience(settings(tmp_path, service.url, cadence_retries=2), [U1], 2, AS_OF)
    assert len(service.requests) == 3
    assert decision.failed_open and decision.eligible == [U1]
    assert "HTTP 500 (after 3 attempt(s))" in decision.warnings[0]


def test_a_transient_500_is_retried(tmp_path: Path) -> None:
    with FakeCadenceService(fail_status=500, fail_times=1, blocked={U1}) as service:
        decision = filter_audience(settings(tmp_path, service.url), [U1, U2], 3, AS_OF)
    assert len(service.requests) == 2
    assert not decision.failed_open and decision.eligible == [U2] and decision.excluded == {"remote": [U1]}


def test_a_4xx_is_not_retried_and_a_malformed_answer_fails_open(tmp_path: Path) -> None:
    with FakeCadenceService(fail_status=400) as service:
        decision = filter_audience(settings(tmp_path, service.url), [U1], 3, AS_OF)
    assert len(service.requests) == 1 and decision.failed_open
    with FakeCadenceService(body_override={"eligible": []}) as service:
        decision = filter_audience(settings(tmp_path, service.url), [U1], 3, AS_OF)
    assert decision.failed_open and "lacks eligibleUserIds" in decision.warnings[0]


def test_connection_refused_fails_open(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    decision = filter_audience(settings(tmp_path, f"http://127.0.0.1:{port}", cadence_retries=0), [U1], 3, AS_OF)
    assert decision.failed_open and "ConnectError" in decision.warnings[0]


def test_fail_closed_raises_and_sends_nobody(tmp_path: Path) -> None:
    with FakeCadenceService(fail_status=500) as service:
        with pytest.raises(DeliveryError, match="failing closed"):
            filter_audience(settings(tmp_path, service.url, cadence_fail_open=False), [U1], 3, AS_OF)


def test_automation_overrides_are_reported_as_ignored(tmp_path: Path) -> None:
    (tmp_path / "schedules.yaml").write_text(
        "automations:\n  - id: a1\n    audience: x\n    cadence: {layer_3_cooldown_hours: 24}\n"
    )
    with FakeCadenceService() as service:
        decision = filter_audience(settings(tmp_path, service.url), [U1], 3, AS_OF, automation="a1")
    assert any("overrides are ignored" in w for w in decision.warnings)


def _push(user_id: str, key: str) -> SentPush:
    return SentPush(
        user_id=user_id,
        layer_id=3,
        sent_at=AS_OF,
        push_title="🎯 The target: Jordan 1s 👟",
        push_body="body",
        audience_description="run r1 / offer_creators",
        deep_link=None,
        send_key=key,
    )


def test_track_remote_posts_one_record_per_push_and_is_not_idempotent(tmp_path: Path) -> None:
    rows = [
        _push(U1, "r1:p:1"),
        {
            "user_id": U2,
            "layer_id": 3,
            "sent_at": AS_OF,
            "push_title": "t",
            "push_body": "b",
            "audience_description": "d",
            "send_key": "r1:p:2",
        },
    ]
    with FakeCadenceService() as service:
        first = track_remote(settings(tmp_path, service.url), rows)
        track_remote(settings(tmp_path, service.url), rows)
    assert (first.recorded, first.failed) == (2, [])
    assert sorted(service.tracked, key=lambda b: b["userId"])[:1] == [
        {
            "userId": U1,
            "layerId": 3,
            "pushTitle": "🎯 The target: Jordan 1s 👟",
            "pushBody": "body",
            "audienceDescription": "run r1 / offer_creators",
        }
    ]
    assert len(service.tracked) == 4  # the service has no dedup key: a second call records again


def test_track_remote_reports_failures_without_raising(tmp_path: Path) -> None:
    with FakeCadenceService(fail_status=503) as service:
        report = track_remote(settings(tmp_path, service.url, cadence_retries=0), [_push(U1, "k1")])
    assert report.recorded == 0 and report.failed == [U1] and report.errors == ["HTTP 503 (after 1 attempt(s))"]
