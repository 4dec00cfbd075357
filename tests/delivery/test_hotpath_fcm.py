"""The FCM client's lean HTTP/1.1 path (issue 27) against a raw server that answers byte for byte as scripted.

The OAuth token comes from the fake FCM; the sends go to a raw asyncio server in the test's own event
loop, so each answer's framing (chunked, ``Connection: close``, a dropped connection) is exact.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

import engine.delivery.fcm as fcm
from engine.delivery.fcm import FcmClient, Outcome, OutcomeKind, Push
from engine.demo.fake_fcm import FakeFcmServer, write_service_account

OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 41\r\n\r\n"
    b'{"name":"projects/p/messages/1234567890"}'
)


@pytest.fixture
def oauth() -> Iterator[FakeFcmServer]:
    with FakeFcmServer() as server:
        yield server


class RawServer:
    """Answers the n-th request with ``answers[n]`` (None: close the connection without a word)."""

    def __init__(self, answers: list[bytes | None]) -> None:
        self.answers = answers
        self.requests: list[tuple[int, bytes, dict[str, str]]] = []  # (connection number, body, headers)
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers["content-length"]))
                self.requests.append((number, body, headers))
                answer = self.answers[len(self.requests) - 1]
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def send_through(
    oauth: FakeFcmServer, tmp_path: Path, answers: list[bytes | None], tokens: list[str], connections: int = 1
) -> tuple[list[Outcome], RawServer]:
    credentials = write_service_account(tmp_path / "sa.json", token_uri=oauth.token_uri)
    raw = RawServer(answers)

    async def run() -> list[Outcome]:
        endpoint = await raw.start()
        client = FcmClient.open(credentials, endpoint, connections=connections, timeout=5.0)
        try:
            return [await client.send(Push(token, "t", "b", None, "send-1")) for token in tokens]
        finally:
            await client.aclose()
            client.close()
            await raw.stop()

    return asyncio.run(run()), raw


def test_one_connection_carries_every_request_and_each_request_is_the_v1_message(
    oauth: FakeFcmServer, tmp_path: Path
) -> None:
    outcomes, raw = send_through(oauth, tmp_path, [OK] * 5, [f"tok-{i}" for i in range(5)], connections=2)
    assert [o.kind for o in outcomes] == [OutcomeKind.SENT] * 5
    assert outcomes[0].message_id == "projects/p/messages/1234567890"
    assert raw.connections == 1  # one at a time: kept alive and reused
    number, body, headers = raw.requests[0]
    assert json.loads(body)["message"]["token"] == "tok-0"
    assert headers["authorization"].startswith("Bearer fake-access-")
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert headers["host"].startswith("127.0.0.1:")


def test_a_chunked_error_answer_is_read_whole_and_its_retry_after_kept(oauth: FakeFcmServer, tmp_path: Path) -> None:
    error = json.dumps(
        {
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "message": "Quota exceeded.",
                "details": [
                    {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "QUOTA_EXCEEDED"}
                ],
            }
        }
    ).encode()
    half = len(error) // 2
    chunked = (
        b"HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, error[:half], len(error) - half, error[half:])
    )
    outcomes, raw = send_through(oauth, tmp_path, [chunked, OK], ["busy", "next"])
    busy, after = outcomes
    assert (busy.kind, busy.code, busy.retry_after) == (OutcomeKind.RETRY, "QUOTA_EXCEEDED", 7.0)
    assert after.kind is OutcomeKind.SENT and raw.connections == 1  # the chunked answer ended where it should


def test_connection_close_opens_a_new_connection_for_the_next_request(oauth: FakeFcmServer, tmp_path: Path) -> None:
    closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")
    outcomes, raw = send_through(oauth, tmp_path, [closing, OK, OK], ["a", "b", "c"])
    assert [o.kind for o in outcomes] == [OutcomeKind.SENT] * 3
    assert [number for number, _, _ in raw.requests] == [1, 2, 2]


def test_a_connection_dropped_before_the_answer_is_retried_as_in_doubt(oauth: FakeFcmServer, tmp_path: Path) -> None:
    outcomes, raw = send_through(oauth, tmp_path, [None, OK], ["lost", "next"])
    lost, after = outcomes
    assert (lost.kind, lost.code) == (OutcomeKind.RETRY, "UNKNOWN")
    assert "may have been delivered" in (lost.detail or "")
    assert after.kind is OutcomeKind.SENT and raw.connections == 2  # the broken one is never reused


def test_a_garbled_answer_is_in_doubt_and_its_connection_dropped(oauth: FakeFcmServer, tmp_path: Path) -> None:
    outcomes, raw = send_through(oauth, tmp_path, [b"HTTP/1.1 2x0 ??\r\n\r\n", OK], ["garbled", "next"])
    garbled, after = outcomes
    assert (garbled.kind, garbled.code) == (OutcomeKind.RETRY, "UNKNOWN")
    assert after.kind is OutcomeKind.SENT and raw.connections == 2


def test_no_server_is_a_retry_that_never_left(oauth: FakeFcmServer, tmp_path: Path) -> None:
    credentials = write_service_account(tmp_path / "sa.json", token_uri=oauth.token_uri)

    async def run() -> Outcome:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()  # the port is free again: nothing listens
        client = FcmClient.open(credentials, f"http://127.0.0.1:{port}", connections=1, timeout=5.0)
        try:
            return await client.send(Push("t", "t", "b", None, "s"))
        finally:
            await client.aclose()
            client.close()

    outcome = asyncio.run(run())
    assert (outcome.kind, outcome.code) == (OutcomeKind.RETRY, "UNAVAILABLE")
    assert "cannot connect" in (outcome.detail or "")


def test_an_http_proxy_in_the_environment_keeps_the_httpx_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours HTTPS_PROXY and friends; the lean path does not, so a proxied endpoint stays on httpx."""
    url = "https://fcm.example.test/v1/projects/p/messages:send"
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.test:3128")
    assert type(fcm.open_transport(url, connections=1, timeout=1.0)).__name__ == "_ConnectionPool"
    monkeypatch.setenv("NO_PROXY", "fcm.example.test")
    assert type(fcm.open_transport(url, connections=1, timeout=1.0)).__name__ == "_LeanPool"


def test_a_connection_the_server_closed_between_sends_is_not_reused(oauth: FakeFcmServer, tmp_path: Path) -> None:
    """A session's loop does not run between its sends, so it misses a keep-alive close: checked before reuse."""
    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[bytes] = []

    def serve() -> None:  # answers each connection's first request, then closes it (an idle timeout, early)
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                while len(body) < length:
                    body += conn.recv(65536)
                requests.append(body)
                conn.sendall(OK)
                time.sleep(0.3)  # closed once the client's loop has stopped

    threading.Thread(target=serve, daemon=True).start()
    credentials = write_service_account(tmp_path / "sa.json", token_uri=oauth.token_uri)
    client = FcmClient.open(credentials, f"http://127.0.0.1:{listener.getsockname()[1]}", connections=1, timeout=5.0)
    try:
        with asyncio.Runner() as loop:  # one loop for both sends, as a send session keeps it
            first = loop.run(client.send(Push("a", "t", "b", None, "s")))
            time.sleep(1.0)  # the server closes the connection while the loop is stopped
            second = loop.run(client.send(Push("b", "t", "b", None, "s")))
            loop.run(client.aclose())
    finally:
        client.close()
        listener.close()
    assert (first.kind, second.kind) == (OutcomeKind.SENT, OutcomeKind.SENT)
    assert len(requests) == 2  # no request went out on the closed connection to be retried
