"""The firebase-admin adapter: the only module that imports the SDK.

Messages go out one HTTP request each through the SDK's async path,
``messaging.send_each_async``, called per message so that our sender, not the SDK,
bounds concurrency and decides on retries. Pointing the SDK at another endpoint
(the local fake, a proxy) and replacing its internal httpx wrapper (which retries
by itself) means touching private attributes; ``_point_sdk_at`` is the one place
that does it, for the firebase-admin range pinned in pyproject.toml (checked at open).

Every SDK error is classified here into an ``Outcome`` so the rest of the engine
never sees a firebase or httpx type.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator

import firebase_admin
import httpx
from firebase_admin import _http_client, credentials, exceptions, messaging
from google.auth import exceptions as google_auth_exceptions
from google.auth.transport import requests as google_auth_requests

from engine.errors import ConfigError, DeliveryError
from engine.secrets import mask_text

# Outcome kinds
SENT = "sent"
RETRY = "retry"          # transient: back off and try again
FAILED = "failed"        # permanent for this message
ABORT = "abort"          # the whole send must stop (credentials, project configuration)

# FCM error codes whose token will never work again: recorded and excluded from later sends
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
_ABORT_CODES = frozenset({"THIRD_PARTY_AUTH_ERROR", "APNS_AUTH_ERROR", "UNAUTHENTICATED",
                          "PERMISSION_DENIED", "NOT_FOUND"})
_RETRY_CODES = frozenset({"QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL", "UNAVAILABLE",
                          "DEADLINE_EXCEEDED", "UNKNOWN"})
_FCM_DETAIL = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


@dataclass(frozen=True)
class Push:
    """One rendered message for one device."""

    token: str
    title: str
    body: str
    link: str | None
    run_id: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one send attempt."""

    kind: str
    message_id: str | None = None
    code: str | None = None
    retry_after: float | None = None
    detail: str | None = None

    @property
    def dead_token(self) -> bool:
        return self.kind == FAILED and self.code in DEAD_TOKEN_CODES


def build_message(push: Push) -> messaging.Message:
    """The payload the original sent, plus ``data.run_id`` so clients can drop a repeat."""
    data = {"run_id": push.run_id}
    if push.link:
        data.update(click_action=push.link, url=push.link)
    with warnings.catch_warnings():
        # 7.x deprecates Message.token for installation ids; our devices hold registration tokens
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(token=push.token, data=data,
                                 notification=messaging.Notification(title=push.title, body=push.body))


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
        raise ConfigError(f"FCM credentials file {path} is not readable JSON: {type(err).__name__}",
                          hint=hint) from None
    missing = [k for k in ("type", "project_id", "private_key", "client_email", "token_uri") if not info.get(k)]
    if not isinstance(info, dict) or info.get("type") != "service_account" or missing:
        raise ConfigError(f"FCM credentials file {path} is not a service-account key"
                          + (f" (missing {', '.join(missing)})" if missing else ""), hint=hint)
    return info


class FcmClient:
    """An initialised firebase app pointed at ``endpoint``; ``send`` one message at a time."""

    def __init__(self, app: firebase_admin.App, pool: "_ConnectionPool", project_id: str, endpoint: str) -> None:
        self._app = app
        self._pool = pool
        self.project_id = project_id
        self.endpoint = endpoint

    @property
    def app(self) -> firebase_admin.App:
        """The firebase app (benchmarks compare against the SDK's own batch calls with it)."""
        return self._app

    @classmethod
    def open(cls, credentials_path: Path | None, endpoint: str, *, connections: int,
             timeout: float = 30.0) -> "FcmClient":
        """Initialise the SDK, fetch an OAuth token now (fail fast), and point it at ``endpoint``."""
        info = read_service_account(credentials_path)
        endpoint = endpoint.rstrip("/")
        if not endpoint.startswith(("https://", "http://")):
            raise ConfigError(f"invalid FCM endpoint {endpoint!r}", hint="use a URL like https://fcm.googleapis.com")
        try:
            cert = credentials.Certificate(info)
        except ValueError as err:
            raise ConfigError(f"FCM credentials file {credentials_path} is invalid: {err}") from None
        _preflight(cert, info["token_uri"])
        app = firebase_admin.initialize_app(cert, {"projectId": info["project_id"], "httpTimeout": timeout},
                                            name=f"engine-send-{uuid.uuid4().hex}")
        pool = _ConnectionPool(cert.get_credential(), connections=connections, timeout=timeout)
        try:
            _point_sdk_at(app, f"{endpoint}/v1/projects/{info['project_id']}/messages:send", pool)
        except Exception:
            firebase_admin.delete_app(app)
            raise
        return cls(app, pool, info["project_id"], endpoint)

    async def send(self, push: Push) -> Outcome:
        """Send one message; never raises for a per-message FCM error."""
        try:
            batch = await messaging.send_each_async([build_message(push)], app=self._app)
        except exceptions.FirebaseError as err:      # the SDK wraps unexpected failures
            return classify(err)
        response = batch.responses[0]
        if response.success:
            return Outcome(SENT, message_id=response.message_id)
        return classify(response.exception)

    async def aclose(self) -> None:
        """Close the HTTP connections (inside the event loop that used them)."""
        await self._pool.aclose()

    def close(self) -> None:
        """Drop the firebase app (after ``aclose``, outside the event loop)."""
        firebase_admin.delete_app(self._app)


def _preflight(cert: credentials.Certificate, token_uri: str) -> None:
    """Get an access token before sending anything: bad credentials abort before the ledger moves."""
    try:
        cert.get_access_token()
    except google_auth_exceptions.RefreshError as err:
        raise DeliveryError(f"FCM credentials were rejected by the OAuth server at {token_uri}: "
                            f"{mask_text(str(err.args[0]) if err.args else 'refresh failed')}",
                            hint="check that the service account key is current and not revoked") from None
    except google_auth_exceptions.TransportError as err:
        cause = type(err.args[0]).__name__ if err.args else str(err)
        raise DeliveryError(f"cannot reach the OAuth server at {token_uri}: {cause}",
                            hint="check network access to the token_uri of the service-account JSON") from None


class _CredentialAuth(httpx.Auth):
    """google-auth credentials on httpx, refreshing through one reused transport.

    (The SDK's own flow builds a ``requests.Session`` for every request.) A 401 refreshes the
    token once and retries, as the SDK does.
    """

    def __init__(self, credential: Any) -> None:
        self._credential = credential
        self._request = google_auth_requests.Request()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self._credential.before_request(self._request, request.method, str(request.url), request.headers)
        response = yield request
        if response.status_code == 401:
            self._credential.refresh(self._request)
            self._credential.apply(request.headers)
            yield request


class _ConnectionPool:
    """Stands in for the SDK's async HTTP client (its ``request``/``aclose`` surface).

    ``connections`` httpx clients of one connection each, handed out from a free list: httpcore's
    pool scans every connection on every request, so one client with N connections costs more
    per message as N grows (measured: 0.9 ms at 8, 2.3 ms at 32 on the dev box), while N
    single-connection clients stay flat. No retries here (the sender owns them), HTTP/1.1
    keep-alive, TCP_NODELAY, one TLS context shared by all.
    """

    def __init__(self, credential: Any, *, connections: int, timeout: float) -> None:
        tls = ssl.create_default_context()
        auth = _CredentialAuth(credential)
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._clients = [
            httpx.AsyncClient(auth=auth, timeout=timeout, headers=dict(_http_client.METRICS_HEADERS),
                              transport=httpx.AsyncHTTPTransport(
                                  verify=tls, retries=0, limits=one,
                                  socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]))
            for _ in range(max(1, connections))]
        self._free: asyncio.Queue[httpx.AsyncClient] | None = None

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._free is None:          # created inside the event loop that sends
            self._free = asyncio.Queue()
            for client in self._clients:
                self._free.put_nowait(client)
        client = await self._free.get()
        try:
            response = await client.request(method, url, **kwargs)
        finally:
            self._free.put_nowait(client)
        return response.raise_for_status()

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        self._free = None


def _point_sdk_at(app: firebase_admin.App, send_url: str, pool: _ConnectionPool) -> None:
    """Point the SDK's async send path at ``send_url`` through ``pool``. Private SDK surface.

    firebase-admin builds the send URL from a hard-coded host (``_MessagingService._fcm_url``)
    and sends through an httpx wrapper (``_async_client``) that sleeps and retries 500/503 by
    itself; the sender owns the retry policy, so that wrapper is replaced by our pool.
    """
    service = messaging._get_messaging_service(app)  # noqa: SLF001
    if not (hasattr(service, "_fcm_url") and hasattr(service, "_async_client")
            and hasattr(messaging, "send_each_async")):
        raise DeliveryError(f"firebase-admin {firebase_admin.__version__} is not supported by this engine",
                            hint="install a version in the range pinned in pyproject.toml")
    service._fcm_url = send_url  # noqa: SLF001
    service._async_client = pool  # noqa: SLF001


def classify(err: BaseException | None) -> Outcome:
    """Map an SDK error to an Outcome: retry, permanent failure, or abort the whole send."""
    if err is None:
        return Outcome(FAILED, code="UNKNOWN", detail="no response and no error")
    cause = getattr(err, "cause", None) or err.__cause__
    if isinstance(cause, google_auth_exceptions.RefreshError):
        return Outcome(ABORT, code="CREDENTIALS",
                       detail=f"FCM credentials were rejected while refreshing the access token: "
                              f"{mask_text(str(cause.args[0]) if cause.args else 'refresh failed')}")
    if isinstance(cause, google_auth_exceptions.TransportError):
        return Outcome(RETRY, code="UNAVAILABLE", detail="OAuth server unreachable")
    response = getattr(err, "http_response", None)
    code = _fcm_code(response) or getattr(err, "code", None) or "UNKNOWN"
    retry_after = _retry_after(response)
    detail = mask_text(str(err))[:300]
    if code in _RETRY_CODES:
        return Outcome(RETRY, code=code, retry_after=retry_after, detail=detail)
    if code in _ABORT_CODES:
        return Outcome(ABORT, code=code, detail=_abort_message(code, detail))
    return Outcome(FAILED, code=code, detail=detail)


def _fcm_code(response: Any) -> str | None:
    if response is None:
        return None
    try:
        details = response.json().get("error", {}).get("details", [])
    except (ValueError, AttributeError):
        return None
    for item in details:
        if isinstance(item, dict) and item.get("@type") == _FCM_DETAIL:
            return item.get("errorCode")
    return None


def _retry_after(response: Any) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None   # an HTTP-date Retry-After is rare from FCM; the backoff applies instead


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
