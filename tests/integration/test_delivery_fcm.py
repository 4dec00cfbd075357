"""The FCM client against the fake FCM over real HTTP: what each answer, or no answer, becomes."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from engine.delivery.fcm import FcmClient, Outcome, OutcomeKind, Push
from engine.demo.fake_fcm import FakeFcmServer, write_service_account


@pytest.fixture
def fcm() -> Iterator[FakeFcmServer]:
    with FakeFcmServer() as server:
        yield server


def send_all(server: FakeFcmServer, tmp_path: Path, tokens: list[str], *, timeout: float = 30.0) -> list[Outcome]:
    """Open a client as a send does, send one push per token in order, close it."""
    credentials = write_service_account(tmp_path / "sa.json", token_uri=server.token_uri)
    client = FcmClient.open(credentials, server.endpoint, connections=2, timeout=timeout)

    async def run() -> list[Outcome]:
        try:
            return [await client.send(Push(token, "t", "b", None, "send-1")) for token in tokens]
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    finally:
        client.close()


def test_no_answer_after_the_request_left_is_retried_and_said_to_be_in_doubt(
    fcm: FakeFcmServer, tmp_path: Path
) -> None:
    fcm.slow(2.0, token="slow")
    [outcome] = send_all(fcm, tmp_path, ["slow"], timeout=0.3)
    assert (outcome.kind, outcome.code) == (OutcomeKind.RETRY, "DEADLINE_EXCEEDED")
    assert "may have been delivered" in (outcome.detail or "")
    assert fcm.attempts()["slow"] == 1  # it did reach FCM: hence in doubt, not "never sent"


def test_a_revoked_access_token_is_replaced_once(fcm: FakeFcmServer, tmp_path: Path) -> None:
    credentials = write_service_account(tmp_path / "sa.json", token_uri=fcm.token_uri)
    client = FcmClient.open(credentials, fcm.endpoint, connections=1)

    async def run() -> list[Outcome]:
        try:
            first = await client.send(Push("a", "t", "b", None, "s"))
            fcm.revoke_access_tokens()
            return [first, await client.send(Push("b", "t", "b", None, "s"))]
        finally:
            await client.aclose()

    outcomes = asyncio.run(run())
    client.close()
    assert [o.kind for o in outcomes] == [OutcomeKind.SENT, OutcomeKind.SENT]
    assert fcm.accepted() == {"a": 1, "b": 1}


def test_an_fcm_401_with_its_own_error_code_is_not_retried(fcm: FakeFcmServer, tmp_path: Path) -> None:
    fcm.script("apns", "third_party_auth")
    [outcome] = send_all(fcm, tmp_path, ["apns"])
    assert (outcome.kind, outcome.code) == (OutcomeKind.ABORT, "THIRD_PARTY_AUTH_ERROR")
    assert fcm.attempts()["apns"] == 1  # no token refresh and second try for an APNs problem


def test_answers_map_to_outcomes(fcm: FakeFcmServer, tmp_path: Path) -> None:
    fcm.script("dead", "unregistered")
    fcm.script("busy", "quota", retry_after=7)
    fcm.script("bad", "invalid_argument")
    ok, dead, busy, bad = send_all(fcm, tmp_path, ["ok", "dead", "busy", "bad"])
    assert ok.kind is OutcomeKind.SENT and (ok.message_id or "").startswith("projects/fake-project/messages/")
    assert (dead.kind, dead.code, dead.dead_token) == ("failed", "UNREGISTERED", True)
    assert (busy.kind, busy.code, busy.retry_after) == (OutcomeKind.RETRY, "QUOTA_EXCEEDED", 7.0)
    assert (bad.kind, bad.code, bad.dead_token) == ("failed", "INVALID_ARGUMENT", False)
    [received] = fcm.received()
    assert received.message == {
        "token": "ok",
        "notification": {"title": "t", "body": "b"},
        "data": {"run_id": "send-1"},
    }


def test_the_fake_answers_keep_alive_requests_without_nagle_delay(fcm: FakeFcmServer) -> None:
    # uvicorn writes an answer's head and body apart: with Nagle on, each answer waits ~40 ms for an ACK
    with httpx.Client(base_url=fcm.endpoint) as client:
        client.get("/_fake/stats")
        started = time.monotonic()
        for _ in range(30):
            client.get("/_fake/stats").raise_for_status()
        assert time.monotonic() - started < 0.6  # 30 x 40 ms = 1.2 s; a few ms in all without Nagle


def test_the_fake_answers_unknown_paths_as_google_does(fcm: FakeFcmServer) -> None:
    answer = httpx.get(f"{fcm.endpoint}/v1/nowhere")
    assert answer.status_code == 404 and answer.json()["error"]["status"] == "NOT_FOUND"


def test_the_fake_runs_standalone_and_stops_on_sigterm(tmp_path: Path) -> None:
    credentials = tmp_path / "sa.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.demo.fake_fcm", "--credentials", str(credentials)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert json.loads(credentials.read_text())["token_uri"] == info["token_uri"]
        assert httpx.get(f"{info['endpoint']}/_fake/stats").json() == {"accepted": 0, "attempts": 0, "tokens": {}}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
