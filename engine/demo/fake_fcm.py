"""A local fake of the FCM HTTP v1 send endpoint and of Google's OAuth token endpoint.

A Starlette app served by uvicorn (httptools parser, HTTP/1.1 keep-alive, TCP_NODELAY as
asyncio sets it) on 127.0.0.1, in a background thread with its own event loop, so
``engine demo``, tests and benchmarks drive the engine's real FCM client end to end.
Starlette and uvicorn because the operator page is served by them too: one server stack to
know, and uvicorn's C parser keeps the fake from being the bottleneck of benchmarks/.
Faults are scripted per token (UNREGISTERED, INVALID_ARGUMENT, 429 with Retry-After,
500/503, THIRD_PARTY_AUTH_ERROR, slow answers); every accepted message is counted, and
recorded unless ``record`` is off.

Run it standalone with ``python -m engine.demo.fake_fcm`` (prints its endpoint as one JSON
line, serves until SIGTERM/Ctrl-C; ``GET /_fake/stats`` returns the counts).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import socket
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# fault kind -> (HTTP status, canonical status, FCM errorCode, message), as FCM answers them
FAULTS: dict[str, tuple[int, str, str | None, str]] = {
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    "invalid_argument": (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
    ),
    "sender_id_mismatch": (403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    "third_party_auth": (401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service"),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric."),
    "internal": (500, "INTERNAL", "INTERNAL", "Internal error encountered."),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}
_JSON = "application/json; charset=UTF-8"


@dataclass(frozen=True)
class Received:
    """One message the fake accepted (answered 200)."""

    token: str
    message: dict[str, Any]
    message_id: str


@dataclass
class _Script:
    kind: str
    times: int | None  # None: every time
    retry_after: float | None


class FakeFcmServer:
    """The fake server. ``start()`` binds a free port; use as a context manager in tests."""

    def __init__(
        self,
        *,
        project_id: str = "fake-project",
        record: bool = True,
        delay: float = 0.0,
        flaky: float = 0.0,
        flaky_retry_after: float = 1.0,
    ) -> None:
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
        self._oauth_delay = 0.0
        self._grants_left = 0
        self._token_lifetime = 3600
        self._ids = itertools.count(1)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeFcmServer:
        """Bind a free port on 127.0.0.1 and serve from a background thread."""
        # proto IPPROTO_TCP, not create_server's 0: asyncio sets TCP_NODELAY only on such sockets' connections,
        # and without it Nagle holds each answer's body (uvicorn writes it after the head) ~40 ms
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(4096)
        self.port = sock.getsockname()[1]
        # log_config=None: the host process (the demo, a test) keeps its own logging set-up
        config = uvicorn.Config(
            self.app(),
            http="httptools",
            loop="asyncio",
            lifespan="off",
            access_log=False,
            log_config=None,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-fcm", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake FCM server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Stop serving (uvicorn closes the idle keep-alive connections and lets answers finish)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeFcmServer:
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

    def app(self) -> Starlette:
        """The ASGI app: the OAuth token endpoint, FCM's messages:send, and the counts."""
        routes = [
            Route("/token", self._oauth, methods=["POST"]),
            Route("/_fake/stats", self._stats, methods=["GET"]),
            Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
        ]
        return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})

    # ---- scripting ------------------------------------------------------------------------

    def script(self, token: str, kind: str, *, times: int | None = None, retry_after: float | None = None) -> None:
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
            self._oauth_delay = 0.0
            self._token_lifetime = 3600

    def slow_oauth(self, seconds: float) -> None:
        """Answer token requests after ``seconds`` (a slow OAuth endpoint: every send setup pays it)."""
        self._oauth_delay = seconds

    def short_lived_tokens(self, seconds: int) -> None:
        """Issue access tokens valid ``seconds`` (google-auth refreshes those before each request)."""
        self._token_lifetime = seconds

    def revoke_access_tokens(self) -> None:
        """Forget every access token issued so far: FCM answers 401 until the client fetches a new one."""
        with self._lock:
            self._issued.clear()

    def reject_oauth(self, error: str | None = "invalid_grant", *, after: int = 0) -> None:
        """Refuse token requests with ``error`` once ``after`` more have been granted (None restores it)."""
        with self._lock:
            self._oauth_error = error
            self._grants_left = after

    # ---- inspection -----------------------------------------------------------------------

    def received(self) -> list[Received]:
        """The accepted messages, in order (empty when ``record`` is off)."""
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

    # ---- endpoints ------------------------------------------------------------------------

    async def _oauth(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        if self._oauth_delay:
            await asyncio.sleep(self._oauth_delay)
        with self._lock:
            refuse = self._oauth_error if self._grants_left <= 0 else None
            self._grants_left -= 1
        if refuse or not form.get("assertion"):
            return _json(400, {"error": refuse or "invalid_request", "error_description": "Invalid JWT Signature."})
        token = f"fake-access-{next(self._ids)}"
        with self._lock:
            self._issued.add(token)
        return _json(200, {"access_token": token, "expires_in": self._token_lifetime, "token_type": "Bearer"})

    async def _stats(self, request: Request) -> Response:
        with self._lock:
            return _json(
                200,
                {
                    "accepted": sum(self._accepted.values()),
                    "attempts": sum(self._attempts.values()),
                    "tokens": dict(self._accepted),
                },
            )

    async def _send(self, request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self._issued:
            return _error(401, "UNAUTHENTICATED", None, "Request had invalid authentication credentials.")
        project = request.path_params["project"]
        if project != self.project_id:
            return _error(404, "NOT_FOUND", None, f"project {project} not found")
        try:
            message = json.loads(await request.body())["message"]
            token = message["token"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "INVALID_ARGUMENT", None, "message.token is required")
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
            extra = {"Retry-After": _seconds(fault.retry_after)} if fault.retry_after is not None else None
            return _error(status, canonical, code, text, extra)
        message_id = f"projects/{project}/messages/{next(self._ids)}"
        with self._lock:
            self._accepted[token] += 1
            if self.record:
                self._received.append(Received(token, message, message_id))
        return _json(200, {"name": message_id})

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


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload).encode(), status_code=status, media_type=_JSON, headers=headers)


def _error(
    status: int, canonical: str, fcm_code: str | None, message: str, headers: dict[str, str] | None = None
) -> Response:
    """An error answer in Google's shape: canonical status, and FCM's own code in ``details``."""
    error: dict[str, Any] = {"code": status, "message": message, "status": canonical}
    if fcm_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_code}]
    return _json(status, {"error": error}, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer as Google's front end does: JSON, not Starlette's plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    canonical = {404: "NOT_FOUND", 405: "INVALID_ARGUMENT"}.get(status, "INTERNAL")
    return _error(status, canonical, None, f"{request.method} {request.url.path}: {exc}")


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def write_service_account(path: Path, *, token_uri: str, project_id: str = "fake-project") -> Path:
    """Write a throwaway service-account JSON (fresh RSA key) whose ``token_uri`` is ``token_uri``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--project-id", default="fake-project")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--no-record", action="store_true", help="count messages, keep no bodies")
    parser.add_argument(
        "--flaky", type=float, default=0.0, help="fraction of tokens that answer 503 with Retry-After once, e.g. 0.01"
    )
    parser.add_argument("--flaky-retry-after", type=float, default=1.0, help="their Retry-After, seconds")
    parser.add_argument("--credentials", type=Path, help="also write a service-account JSON here")
    args = parser.parse_args(argv)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    server = FakeFcmServer(
        project_id=args.project_id,
        record=not args.no_record,
        delay=args.delay,
        flaky=args.flaky,
        flaky_retry_after=args.flaky_retry_after,
    ).start()
    if args.credentials:
        write_service_account(args.credentials, token_uri=server.token_uri, project_id=args.project_id)
    print(
        json.dumps({"endpoint": server.endpoint, "token_uri": server.token_uri, "project_id": server.project_id}),
        flush=True,
    )
    while not stopped.wait(0.5):
        pass
    server.stop()


if __name__ == "__main__":
    main()
