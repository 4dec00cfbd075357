"""FCM's HTTP v1 API, called directly: our own lean HTTP/1.1 connections, google-auth for the OAuth token.

One POST per message to ``{endpoint}/v1/projects/{project}/messages:send``, so that our
sender, not a client library, bounds concurrency and decides on retries (nothing retries
here). The token comes from the service account's own ``token_uri`` (the local fake
points it at itself). Every answer and transport error is classified here into an
``Outcome``, so the rest of the engine never sees an HTTP library's or google-auth's type.

The requests go over ``_LeanPool``: keep-alive HTTP/1.1 connections on asyncio's own
transports (TLS by ``ssl``), each request written in one piece, each answer parsed by
httptools (llhttp, the C parser uvicorn uses). httpx cost ~0.6 ms of CPU per push (its
URL, header and cookie models, anyio cancel scopes, two socket writes a request): more than
the rest of a send together (issue 27). When an HTTP proxy applies to the endpoint
(``HTTPS_PROXY`` and friends), the httpx pool is used instead, as it honours them.
aiohttp 3.14 (one ClientSession, TCPConnector limited to the in-flight count, keep-alive, bodies
pre-encoded, headers built once per token) was measured against this pool on the zero-delay fake and
not chosen: 135/127/159 us of CPU per push at 8/32/128 in flight against 75/60/60 here (1.8-2.7x;
~400 us with ``trust_env=True``, which reads the proxy environment on every request), and a 20k-push
engine send at 2,044 msg/s and 302 us per push against 3,657 msg/s and 186 us (medians of 3 interleaved
rounds): over the 1.3x CPU bar the lean pool was to beat for a library to replace it.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import ssl
import time
import urllib.request
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httptools
import httpx
import requests
from google.auth import exceptions as auth_errors
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from engine.errors import ConfigError, DeliveryError
from engine.secrets import mask_text

SCOPES = ["https://www.googleapis.com/auth/firebase.messaging"]


# FCM error codes whose token will never work again: recorded and excluded from later sends
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
_ABORT_CODES = frozenset(
    {"THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND"}
)
_RETRY_CODES = frozenset(
    {"QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL", "UNAVAILABLE", "DEADLINE_EXCEEDED", "UNKNOWN"}
)
_FCM_DETAIL = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# the canonical code of an error answer without one in its body (Google's own HTTP mapping)
_STATUS_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "CONFLICT",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_HEADERS = {"Content-Type": "application/json; charset=UTF-8", "User-Agent": "audience-engine"}


@dataclass(frozen=True)
class Push:
    """One rendered message for one device."""

    token: str
    title: str
    body: str
    link: str | None
    run_id: str


class OutcomeKind(StrEnum):
    """What an attempt's answer means for the sender."""

    SENT = "sent"
    RETRY = "retry"  # transient: back off and try again
    FAILED = "failed"  # permanent for this message
    ABORT = "abort"  # the whole send must stop (credentials, project configuration)


@dataclass(frozen=True)
class Outcome:
    """What happened to one send attempt."""

    kind: OutcomeKind
    message_id: str | None = None
    code: str | None = None
    retry_after: float | None = None
    detail: str | None = None

    @property
    def dead_token(self) -> bool:
        return self.kind is OutcomeKind.FAILED and self.code in DEAD_TOKEN_CODES


# one encoder for every body: json.dumps with options builds a new JSONEncoder per call
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_message(push: Push) -> bytes:
    """The request body: the payload the original sent, plus ``data.run_id`` so clients can drop a repeat."""
    data = {"run_id": push.run_id}
    if push.link:
        data.update(click_action=push.link, url=push.link)
    message = {"token": push.token, "notification": {"title": push.title, "body": push.body}, "data": data}
    return _ENCODE({"message": message}).encode()


class Answer:
    """An HTTP answer as classified here: status, headers (names lower-cased) and the body read in full."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        return json.loads(self.content)


class _Transport(Protocol):
    async def post(self, body: bytes, headers: dict[str, str]) -> Answer: ...

    async def aclose(self) -> None: ...


def read_service_account(path: Path | None) -> dict[str, Any]:
    """Load and check the service-account JSON, with errors that say what to fix."""
    hint = "set ENGINE_FCM_CREDENTIALS to the service-account JSON downloaded from the Firebase console"
    if path is None:
        raise ConfigError("no FCM credentials configured", hint=hint)
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"FCM credentials file not found: {path}", hint=hint) from None
    except (OSError, ValueError) as err:
        raise ConfigError(
            f"FCM credentials file {path} is not readable JSON: {type(err).__name__}", hint=hint
        ) from None
    missing = [k for k in ("type", "project_id", "private_key", "client_email", "token_uri") if not info.get(k)]
    if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
        raise ConfigError(
            f"FCM credentials file {path} is not a service-account key"
            + (f" (missing {', '.join(missing)})" if missing else ""),
            hint=hint,
        )
    return info


class FcmClient:
    """Sends one message at a time to FCM; ``open`` checks the credentials first."""

    def __init__(self, token: _AccessToken, pool: _Transport, project_id: str, endpoint: str) -> None:
        self._token = token
        self._pool = pool
        self.project_id = project_id
        self.endpoint = endpoint

    @classmethod
    def open(
        cls, credentials_path: Path | None, endpoint: str, *, connections: int, timeout: float = 30.0
    ) -> FcmClient:
        """Load the service account and fetch an OAuth token now (fail fast, before the ledger moves)."""
        info = read_service_account(credentials_path)
        endpoint = endpoint.rstrip("/")
        if not endpoint.startswith(("https://", "http://")):
            raise ConfigError(f"invalid FCM endpoint {endpoint!r}", hint="use a URL like https://fcm.googleapis.com")
        try:
            credentials = service_account.Credentials.from_service_account_info(info, scopes=SCOPES)
        except ValueError as err:
            raise ConfigError(f"FCM credentials file {credentials_path} is invalid: {err}") from None
        token = _AccessToken(credentials)
        _preflight(token, info["token_uri"])
        url = f"{endpoint}/v1/projects/{info['project_id']}/messages:send"
        return cls(token, open_transport(url, connections=connections, timeout=timeout), info["project_id"], endpoint)

    async def send(self, push: Push) -> Outcome:
        """Send one message; never raises for a per-message FCM or network error."""
        body = encode_message(push)
        try:
            headers = await self._token.headers()
            response = await self._pool.post(body, headers)
            if response.status_code == 401 and _fcm_code(response) is None:
                # the token was revoked or expired early: one fresh token, one more try
                response = await self._pool.post(body, await self._token.renew(headers))
        except auth_errors.RefreshError as err:
            return Outcome(
                OutcomeKind.ABORT,
                code="CREDENTIALS",
                detail=f"FCM credentials were rejected while refreshing the access token: "
                f"{mask_text(str(err.args[0]) if err.args else 'refresh failed')}",
            )
        except auth_errors.TransportError:
            return Outcome(OutcomeKind.RETRY, code="UNAVAILABLE", detail="OAuth server unreachable")
        except (httpx.HTTPError, _NoAnswer) as err:
            return _transport_failure(err)
        if response.status_code == 200:
            try:
                return Outcome(OutcomeKind.SENT, message_id=response.json().get("name"))
            except (ValueError, AttributeError):
                return Outcome(OutcomeKind.SENT)  # accepted; FCM's answer always names it, but no id is no failure
        return classify(response)

    async def aclose(self) -> None:
        """Close the HTTP connections (inside the event loop that used them)."""
        await self._pool.aclose()

    def close(self) -> None:
        """Close the OAuth server's session (after ``aclose``, outside the event loop)."""
        self._token.close()


class _AccessToken:
    """The bearer token, refreshed by google-auth from the service account's ``token_uri``.

    google-auth's transport blocks (requests), so a refresh runs in a thread, one at a time,
    through one session; the header dict is built once per token, so the hot path reads
    ``valid`` and returns it.
    """

    def __init__(self, credentials: service_account.Credentials) -> None:
        self._credentials = credentials
        self._session = requests.Session()
        self._request = Request(self._session)
        self._lock = asyncio.Lock()
        self._headers: dict[str, str] = {}

    def refresh(self) -> None:
        """Fetch a new token (blocking) and build the request headers that carry it."""
        self._credentials.refresh(self._request)
        headers = dict(_HEADERS)
        self._credentials.apply(headers)
        self._headers = headers

    async def headers(self) -> dict[str, str]:
        """Headers with a valid token (google-auth calls a token near its expiry invalid)."""
        if not self._credentials.valid:
            async with self._lock:
                if not self._credentials.valid:
                    await asyncio.to_thread(self.refresh)
        return self._headers

    async def renew(self, rejected: dict[str, str]) -> dict[str, str]:
        """Headers with a new token after FCM rejected ``rejected`` (once, however many requests saw it)."""
        async with self._lock:
            if self._headers is rejected:
                await asyncio.to_thread(self.refresh)
        return self._headers

    def close(self) -> None:
        self._session.close()


def _preflight(token: _AccessToken, token_uri: str) -> None:
    """Get an access token before sending anything: bad credentials abort before the ledger moves."""
    try:
        token.refresh()
    except auth_errors.RefreshError as err:
        raise DeliveryError(
            f"FCM credentials were rejected by the OAuth server at {token_uri}: "
            f"{mask_text(str(err.args[0]) if err.args else 'refresh failed')}",
            hint="check that the service account key is current and not revoked",
        ) from None
    except auth_errors.TransportError as err:
        cause = type(err.args[0]).__name__ if err.args else str(err)
        raise DeliveryError(
            f"cannot reach the OAuth server at {token_uri}: {cause}",
            hint="check network access to the token_uri of the service-account JSON",
        ) from None


def open_transport(url: str, *, connections: int, timeout: float) -> _Transport:
    """The lean pool for ``url``, or the httpx one when an HTTP proxy applies to it (httpx honours proxies)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if (parts.scheme in proxies or "all" in proxies) and not urllib.request.proxy_bypass(parts.hostname or ""):
        return _ConnectionPool(url, connections=connections, timeout=timeout)
    return _LeanPool(url, connections=connections, timeout=timeout)


class _ConnectionPool:
    """``connections`` httpx clients of one connection each, handed out from a free list (behind a proxy).

    httpcore's pool scans every connection on every request, so one client with N connections
    costs more per message as N grows (measured: 0.9 ms at 8, 2.3 ms at 32 on the dev box),
    while N single-connection clients stay flat. No retries (the sender owns them), HTTP/1.1
    keep-alive, TCP_NODELAY, one TLS context shared by all.
    """

    def __init__(self, url: str, *, connections: int, timeout: float) -> None:
        self._url = url
        tls = ssl.create_default_context()
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._clients = [
            httpx.AsyncClient(
                timeout=timeout,
                transport=httpx.AsyncHTTPTransport(
                    verify=tls, retries=0, limits=one, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
                ),
            )
            for _ in range(max(1, connections))
        ]
        self._free: asyncio.Queue[httpx.AsyncClient] | None = None

    async def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """POST ``body`` on the first free connection; the answer is read in full."""
        if self._free is None:  # created inside the event loop that sends
            self._free = asyncio.Queue()
            for client in self._clients:
                self._free.put_nowait(client)
        client = await self._free.get()
        try:
            response = await client.post(self._url, content=body, headers=headers)
        finally:
            self._free.put_nowait(client)
        return Answer(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._free = None


_IDLE_CHECK_S = 0.5  # an idle connection older than this is checked for a close before reuse


class _NoAnswer(Exception):
    """A request that got no (complete) answer: it may or may not have reached FCM."""


class _ConnectFailed(_NoAnswer):
    """No connection: the request never left."""


class _TimedOut(_NoAnswer):
    """No complete answer within the timeout."""


class _LeanPool:
    """Up to ``connections`` keep-alive HTTP/1.1 connections to one URL, reused last-in first-out.

    Each request is one write (head and body together) and waits for its whole answer within
    ``timeout``; a connection that timed out, broke or was told ``Connection: close`` is dropped
    and the next request opens a new one. No retries here (the sender owns them).
    """

    def __init__(self, url: str, *, connections: int, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"invalid FCM endpoint {url!r}", hint="use a URL like https://fcm.googleapis.com")
        self._host = parts.hostname
        self._tls = ssl.create_default_context() if parts.scheme == "https" else None
        if self._tls is not None:
            self._tls.set_alpn_protocols(["http/1.1"])
        self._port = parts.port or (443 if self._tls else 80)
        default_port = self._port == (443 if self._tls else 80)
        authority = self._host if default_port else f"{self._host}:{self._port}"
        self._request_line = f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {authority}\r\n".encode("ascii")
        self._timeout = timeout
        self._limit = max(1, connections)
        self._slots: asyncio.Semaphore | None = None
        self._idle: list[_Http1] = []
        self._head_of: dict[str, str] | None = None  # the header dict ``_head`` was built from
        self._head = b""

    async def post(self, body: bytes, headers: dict[str, str]) -> Answer:
        """POST ``body`` on an idle connection (a new one if none); the answer is read in full."""
        if self._slots is None:  # created inside the event loop that sends
            self._slots = asyncio.Semaphore(self._limit)
        if headers is not self._head_of:  # a new token: its header lines once, not per request
            lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
            if any(c in f"{k}{v}" for k, v in headers.items() for c in "\r\n\0"):
                raise auth_errors.RefreshError("the access token holds a line break")  # never split a request
            self._head = self._request_line + lines.encode("latin-1")
            self._head_of = headers
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            while conn is not None and conn.stale():
                conn.close()
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = await self._connect()
            try:
                answer = await conn.request(
                    self._head + b"Content-Length: %d\r\n\r\n" % len(body) + body, self._timeout
                )
            except BaseException:
                conn.close()  # its answer may still come: never reuse it (a cancelled send, a timeout)
                raise
            if not conn.closed:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            return answer

    async def _connect(self) -> _Http1:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                _, conn = await loop.create_connection(
                    lambda: _Http1(loop),
                    self._host,
                    self._port,
                    ssl=self._tls,
                    server_hostname=self._host if self._tls else None,
                )
        except (OSError, TimeoutError, ssl.SSLError) as err:
            raise _ConnectFailed(f"{type(err).__name__}: {err}".rstrip(": ")) from None
        return conn

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        self._slots = None


class _Http1(asyncio.Protocol):
    """One HTTP/1.1 connection with at most one request out; httptools parses the answers."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Answer] | None = None
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.idle_since = 0.0

    def stale(self) -> bool:
        """Closed, or closed by the server while it sat idle (a keep-alive timeout).

        The event loop learns of a server's close only while it runs: between the sends of a
        session it does not, so a connection idle for a while is asked directly (one ``select``)
        before it carries a request that would otherwise fail and be retried as in doubt.
        """
        if self.closed or self._transport is None:
            return True
        if time.monotonic() - self.idle_since < _IDLE_CHECK_S:
            return False
        sock = self._transport.get_extra_info("socket")
        try:
            readable, _, _ = select.select([sock], [], [], 0) if sock is not None else ([], [], [])
        except (OSError, ValueError):
            return True
        return bool(readable)  # nothing is due on an idle connection: this is its end (or garbage)

    # ---- the caller's side ----

    async def request(self, data: bytes, timeout: float) -> Answer:
        if self._transport is None or self.closed:
            raise _NoAnswer("connection closed")
        self._waiter = self._loop.create_future()
        self._headers = {}
        self._body = []
        self._timer = self._loop.call_later(timeout, self._expire)
        self._transport.write(data)
        try:
            return await self._waiter
        finally:
            self._timer.cancel()
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _expire(self) -> None:
        self._fail(_TimedOut("no answer within the timeout"))
        self.close()  # the late answer must not be read as the next request's

    def _fail(self, err: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(err)

    # ---- asyncio's side ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._fail(_NoAnswer(f"malformed answer: {err}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(_NoAnswer("connection closed before the answer" + (f": {exc}" if exc else "")))

    # ---- httptools' callbacks ----

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self.close()
        answer = Answer(self._parser.get_status_code(), self._headers, b"".join(self._body))
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(answer)
        elif not self.closed:
            self.close()  # an answer nobody asked for: the connection is out of step


def _transport_failure(err: httpx.HTTPError | _NoAnswer) -> Outcome:
    """A request without an answer: retried, and said to be in doubt once it may have reached FCM.

    Only a failed connect proves the message never left; after that (a timeout, a dropped
    connection) FCM may have delivered it, and the retry relies on ``data.run_id`` to let
    the app drop the repeat.
    """
    if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout, _ConnectFailed)):
        cause = str(err) if isinstance(err, _ConnectFailed) else type(err).__name__
        return Outcome(OutcomeKind.RETRY, code="UNAVAILABLE", detail=f"cannot connect to FCM: {cause}")
    code = "DEADLINE_EXCEEDED" if isinstance(err, (httpx.TimeoutException, _TimedOut)) else "UNKNOWN"
    cause = str(err) if isinstance(err, _NoAnswer) else type(err).__name__
    return Outcome(
        OutcomeKind.RETRY,
        code=code,
        detail=f"no answer from FCM ({cause}): the message may "
        "have been delivered; retried (the app drops repeats by run_id)",
    )


def classify(response: Answer) -> Outcome:
    """Map an error answer to an Outcome: retry, permanent failure, or abort the whole send."""
    error = _error_body(response)
    status = error.get("status")
    code = (
        _fcm_code(response)
        or (status if isinstance(status, str) and status else None)
        or _STATUS_CODES.get(response.status_code, "UNKNOWN")
    )
    detail = mask_text(str(error.get("message") or f"HTTP {response.status_code}"))[:300]
    if code in _RETRY_CODES:
        return Outcome(OutcomeKind.RETRY, code=code, retry_after=_retry_after(response), detail=detail)
    if code in _ABORT_CODES:
        return Outcome(OutcomeKind.ABORT, code=code, detail=_abort_message(code, detail))
    return Outcome(OutcomeKind.FAILED, code=code, detail=detail)


def _error_body(response: Answer) -> dict[str, Any]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _fcm_code(response: Answer) -> str | None:
    details = _error_body(response).get("details")
    for item in details if isinstance(details, list) else ():
        if isinstance(item, dict) and item.get("@type") == _FCM_DETAIL and isinstance(item.get("errorCode"), str):
            return str(item["errorCode"])
    return None


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP-date Retry-After is rare from FCM; the backoff applies instead


def _abort_message(code: str, detail: str) -> str:
    reasons = {
        "THIRD_PARTY_AUTH_ERROR": "FCM could not authenticate with APNs/Web Push (THIRD_PARTY_AUTH_ERROR): "
        "check the APNs key or certificate in the Firebase console",
        "APNS_AUTH_ERROR": "FCM could not authenticate with APNs (APNS_AUTH_ERROR): check the APNs key",
        "UNAUTHENTICATED": "FCM rejected the access token (UNAUTHENTICATED): check the service account",
        "PERMISSION_DENIED": "the service account may not send for this project (PERMISSION_DENIED)",
        "NOT_FOUND": "the FCM project or endpoint was not found (NOT_FOUND): check the project_id "
        "in the credentials and ENGINE_FCM_ENDPOINT",
    }
    return f"{reasons[code]}; {detail}"
