"""A local fake of the FCM HTTP v1 send endpoint and of Google's OAuth token endpoint.

It speaks real HTTP/1.1 on 127.0.0.1 (asyncio, keep-alive, one event loop in a
background thread), so tests, the benchmark and ``engine demo`` drive the real
firebase-admin SDK end to end. Faults are scripted per token (UNREGISTERED,
INVALID_ARGUMENT, 429 with Retry-After, 500/503, THIRD_PARTY_AUTH_ERROR, slow
answers); every accepted message is recorded so a test can count what arrived.

Run it standalone with ``python -m engine.delivery.fake_fcm`` (prints its endpoint
as one JSON line, serves until SIGTERM/Ctrl-C; ``GET /_fake/stats`` returns the counts).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# fault kind -> (HTTP status, canonical status, FCM errorCode, message), as FCM answers them
FAULTS: dict[str, tuple[int, str, str | None, str]] = {
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "invalid_argument": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT",
                         "The registration token is not a valid FCM registration token"),
    "sender_id_mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "third_party_auth": (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR",
                         "Auth error from APNS or Web Push Service"),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric."),
    "internal": (500, "INTERNAL", "INTERNAL", "Internal error encountered."),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Received:
    """One message the fake accepted (answered 200)."""

    token: str
    message: dict[str, Any]
    message_id: str


@dataclass
class _Script:
    kind: str
    times: int | None          # None: every time
    retry_after: float | None


class FakeFcmServer:
    """The fake server. ``start()`` binds a free port; use as a context manager in tests."""

    def __init__(self, *, project_id: str = "fake-project", record: bool = True,
                 delay: float = 0.0, flaky: float = 0.0, flaky_retry_after: float = 1.0) -> None:
        self.project_id = project_id
        self.record = record
        self._delay = delay
        # a fixed fraction of tokens (by CRC32) answer 503 + Retry-After once, then succeed
        self._flaky = flaky
        self._flaky_retry_after = flaky_retry_after
        self._flaked: set[str] = set()
        self._token_delay: dict[str, float] = {}
        self._scripts: dict[str, list[_Script]] = {}
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._accepted: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()
        self._attempt_times: dict[str, list[float]] = {}
        self._issued: set[str] = set()
        self._oauth_error: str | None = None
        self._grants_left = 0
        self._token_lifetime = 3600
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> "FakeFcmServer":
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-fcm", daemon=True)
        self._thread.start()
        ready.wait(10)
        if not self.port:
            raise RuntimeError("fake FCM server did not start")
        return self

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=4096))
        self.port = self._server.sockets[0].getsockname()[1]
        ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    def stop(self) -> None:
        if self._loop and self._server:
            loop, server = self._loop, self._server

            async def shutdown() -> None:
                server.close()
                for task in list(self._connections):
                    task.cancel()
                await asyncio.gather(*self._connections, return_exceptions=True)
                loop.stop()

            asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> "FakeFcmServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """Base URL to use as ``ENGINE_FCM_ENDPOINT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        """OAuth token endpoint to put in a service-account JSON's ``token_uri``."""
        return f"{self.endpoint}/token"

    # ---- scripting ------------------------------------------------------------------------

    def script(self, token: str, kind: str, *, times: int | None = None,
               retry_after: float | None = None) -> None:
        """Answer ``token``'s next ``times`` sends (all, when None) with fault ``kind``."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._scripts.setdefault(token, []).append(_Script(kind, times, retry_after))

    def slow(self, seconds: float, token: str | None = None) -> None:
        """Delay answers by ``seconds`` (for one token, or for all when ``token`` is None)."""
        with self._lock:
            if token is None:
                self._delay = seconds
            else:
                self._token_delay[token] = seconds

    def heal(self) -> None:
        """Drop every scripted fault and delay: the service works again."""
        with self._lock:
            self._scripts.clear()
            self._token_delay.clear()
            self._delay = 0.0
            self._oauth_error = None
            self._token_lifetime = 3600

    def short_lived_tokens(self, seconds: int) -> None:
        """Issue access tokens valid ``seconds`` (google-auth refreshes those before each request)."""
        self._token_lifetime = seconds

    def reject_oauth(self, error: str | None = "invalid_grant", *, after: int = 0) -> None:
        """Refuse token requests with ``error`` once ``after`` more have been granted (None restores it)."""
        with self._lock:
            self._oauth_error = error
            self._grants_left = after

    # ---- inspection -----------------------------------------------------------------------

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def accepted(self) -> Counter[str]:
        """Accepted messages per token."""
        with self._lock:
            return Counter(self._accepted)

    def attempts(self) -> Counter[str]:
        """Send requests per token, accepted or not."""
        with self._lock:
            return Counter(self._attempts)

    def attempt_times(self, token: str) -> list[float]:
        """``time.monotonic()`` at each send request for ``token`` (recorded when ``record`` is on)."""
        with self._lock:
            return list(self._attempt_times.get(token, []))

    # ---- HTTP -----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task:
            self._connections.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                if "content-length" not in headers and method == "POST":
                    writer.write(_response(411, {"error": "length required"}, close=True))
                    await writer.drain()
                    return
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, payload, extra = await self._route(method, target, headers, body)
                close = headers.get("connection", "").lower() == "close"
                writer.write(_response(status, payload, extra=extra, close=close))
                await writer.drain()
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return
        finally:
            self._connections.discard(task)  # type: ignore[arg-type]
            writer.close()

    async def _route(self, method: str, target: str, headers: dict[str, str],
                     body: bytes) -> tuple[int, Any, dict[str, str]]:
        path = target.split("?", 1)[0]
        if path == "/token" and method == "POST":
            return self._oauth(body)
        if path == "/_fake/stats" and method == "GET":
            with self._lock:
                return 200, {"accepted": sum(self._accepted.values()),
                             "attempts": sum(self._attempts.values()),
                             "tokens": dict(self._accepted)}, {}
        prefix, suffix = "/v1/projects/", "/messages:send"
        if path.startswith(prefix) and path.endswith(suffix):
            if method != "POST":
                return 405, _error(405, "INVALID_ARGUMENT", None, "use POST"), {}
            return await self._send(path[len(prefix):-len(suffix)], headers, body)
        return 404, _error(404, "NOT_FOUND", None, f"no such endpoint: {path}"), {}

    def _oauth(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        form = parse_qs(body.decode())
        with self._lock:
            refuse = self._oauth_error if self._grants_left <= 0 else None
            self._grants_left -= 1
        if refuse or not form.get("assertion"):
            return 400, {"error": refuse or "invalid_request", "error_description": "Invalid JWT Signature."}, {}
        token = f"fake-access-{next(self._ids)}"
        with self._lock:
            self._issued.add(token)
        return 200, {"access_token": token, "expires_in": self._token_lifetime, "token_type": "Bearer"}, {}

    async def _send(self, project: str, headers: dict[str, str],
                    body: bytes) -> tuple[int, Any, dict[str, str]]:
        bearer = headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self._issued:
            return 401, _error(401, "UNAUTHENTICATED", None,
                               "Request had invalid authentication credentials."), {}
        if project != self.project_id:
            return 404, _error(404, "NOT_FOUND", None, f"project {project} not found"), {}
        try:
            message = json.loads(body)["message"]
            token = message["token"]
        except (ValueError, KeyError, TypeError):
            return 400, _error(400, "INVALID_ARGUMENT", None, "message.token is required"), {}
        with self._lock:
            self._attempts[token] += 1
            if self.record:
                self._attempt_times.setdefault(token, []).append(time.monotonic())
            delay = self._token_delay.get(token, self._delay)
            fault = self._next_fault(token)
        if delay:
            await asyncio.sleep(delay)
        if fault:
            status, canonical, code, text = FAULTS[fault.kind]
            extra = {"Retry-After": _seconds(fault.retry_after)} if fault.retry_after is not None else {}
            return status, _error(status, canonical, code, text), extra
        message_id = f"projects/{project}/messages/{next(self._ids)}"
        with self._lock:
            self._accepted[token] += 1
            if self.record:
                self._received.append(Received(token, message, message_id))
        return 200, {"name": message_id}, {}

    def _next_fault(self, token: str) -> _Script | None:
        scripts = self._scripts.get(token)
        if not scripts:
            chosen = zlib.crc32(token.encode()) % 10_000 < self._flaky * 10_000
            if chosen and token not in self._flaked:
                self._flaked.add(token)
                return _Script("unavailable", 1, self._flaky_retry_after)
            return None
        current = scripts[0]
        if current.times is not None:
            current.times -= 1
            if current.times <= 0:
                scripts.pop(0)
        return current


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _error(status: int, canonical: str, fcm_code: str | None, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": canonical}
    if fcm_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}]
    return {"error": error}


def _response(status: int, payload: Any, *, extra: dict[str, str] | None = None, close: bool = False) -> bytes:
    body = json.dumps(payload).encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            "Content-Type: application/json; charset=UTF-8", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in (extra or {}).items()]
    if close:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def write_service_account(path: Path, *, token_uri: str, project_id: str = "fake-project") -> Path:
    """Write a throwaway service-account JSON (fresh RSA key) whose ``token_uri`` is ``token_uri``."""
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "fake-key-id",
        "private_key": pem,
        "client_email": f"engine@{project_id}.iam.gserviceaccount.com",
        "client_id": "100000000000000000000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C (benchmarks and manual runs start it apart)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project-id", default="fake-project")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--no-record", action="store_true", help="count messages, keep no bodies")
    parser.add_argument("--flaky", type=float, default=0.0,
                        help="fraction of tokens that answer 503 with Retry-After once, e.g. 0.01")
    parser.add_argument("--flaky-retry-after", type=float, default=1.0, help="their Retry-After, seconds")
    parser.add_argument("--credentials", type=Path, help="also write a service-account JSON here")
    args = parser.parse_args(argv)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    server = FakeFcmServer(project_id=args.project_id, record=not args.no_record, delay=args.delay,
                           flaky=args.flaky, flaky_retry_after=args.flaky_retry_after).start()
    if args.credentials:
        write_service_account(args.credentials, token_uri=server.token_uri, project_id=args.project_id)
    print(json.dumps({"endpoint": server.endpoint, "token_uri": server.token_uri,
                      "project_id": server.project_id}), flush=True)
    while not stopped.wait(0.5):
        pass
    server.stop()


if __name__ == "__main__":
    main()
