"""Remote cadence: the original push-cadence-service over HTTP, with the original's fail-open policy.

``POST /api/filter-audience`` {userIds, layerId} -> {eligibleUserIds, excludedCount} and
``POST /api/track-notification`` {userId, layerId, pushTitle, pushBody, audienceDescription}.
Each request has a timeout and bounded retries with full-jitter backoff (transport errors and
5xx only). When filtering still fails: fail open (everyone valid is eligible, said loudly in
the log and in ``warnings``) or, with ``cadence_fail_open: false``, fail closed by raising
DeliveryError, so that a live send stops before pushing anyone.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from engine.cadence.model import CadenceDecision, Exclusion, SentPush
from engine.cadence.tracking import as_sent_push
from engine.cadence.userids import Audience
from engine.config import Settings
from engine.errors import ConfigError, DeliveryError
from engine.secrets import mask_text

log = logging.getLogger("engine.cadence")

FILTER_PATH = "/api/filter-audience"
TRACK_PATH = "/api/track-notification"
REMOTE_RULE = "remote"  # the service does not say which rule excluded whom
_BACKOFF_S = 0.2  # the first retry waits up to this, each next one up to twice as long ...
_MAX_BACKOFF_S = 5.0  # ... but never longer than this
_TRACK_CONCURRENCY = 8


class _ServiceFailure(Exception):
    """The service did not give a usable answer after all attempts."""


def _base_url(settings: Settings) -> str:
    url = (settings.cadence_url or "").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            "cadence_mode is 'remote' but no valid cadence_url is set",
            hint="set ENGINE_CADENCE_URL to the service root, e.g. http://localhost:3002",
        )
    return url


def _client(settings: Settings) -> httpx.Client:
    timeout = httpx.Timeout(settings.cadence_timeout_s, connect=min(settings.cadence_timeout_s, 5.0))
    return httpx.Client(base_url=_base_url(settings), timeout=timeout)


class _Transient(Exception):
    """A transport error or a 5xx: worth another attempt."""


def _post_once(client: httpx.Client, path: str, payload: Mapping[str, Any]) -> httpx.Response:
    try:
        response = client.post(path, json=payload)
    except httpx.TransportError as err:
        raise _Transient(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__) from None
    if response.status_code >= 500:
        raise _Transient(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        raise _ServiceFailure(f"HTTP {response.status_code}")
    return response


def _post(client: httpx.Client, path: str, payload: Mapping[str, Any], *, retries: int) -> httpx.Response:
    """POST with bounded retries (full-jitter backoff) on transport errors and 5xx; a 4xx is final."""
    retrying = Retrying(
        stop=stop_after_attempt(max(0, retries) + 1),
        reraise=True,
        wait=wait_random_exponential(multiplier=_BACKOFF_S, max=_MAX_BACKOFF_S),
        retry=retry_if_exception_type(_Transient),
    )
    try:
        return retrying(_post_once, client, path, payload)
    except (_Transient, _ServiceFailure) as failure:
        raise _ServiceFailure(f"{failure} (after {retrying.statistics['attempt_number']} attempt(s))") from None


def _parse_filter(response: httpx.Response) -> tuple[list[str], int]:
    try:
        body = response.json()
    except ValueError as err:
        raise _ServiceFailure("response is not JSON") from err
    eligible = body.get("eligibleUserIds") if isinstance(body, dict) else None
    count = body.get("excludedCount") if isinstance(body, dict) else None
    if (
        not isinstance(eligible, list)
        or not all(isinstance(x, str) for x in eligible)
        or not isinstance(count, int)
        or isinstance(count, bool)
    ):
        raise _ServiceFailure("response lacks eligibleUserIds (strings) and excludedCount (integer)")
    return eligible, count


def _key(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def remote_decision(settings: Settings, audience: Audience, layer_id: int) -> CadenceDecision:
    """Ask the service who may get a ``layer_id`` push; fail open or closed when it cannot answer."""
    url = _base_url(settings)
    warnings: list[str] = []
    if not audience.ids:
        return CadenceDecision(eligible=[], excluded={REMOTE_RULE: []}, mode="remote", layer_id=layer_id)
    try:
        with _client(settings) as client:
            response = _post(
                client,
                FILTER_PATH,
                {"userIds": list(audience.ids), "layerId": layer_id},
                retries=settings.cadence_retries,
            )
        returned, excluded_count = _parse_filter(response)
    except _ServiceFailure as failure:
        return _service_down(settings, audience, layer_id, f"{url}{FILTER_PATH}: {failure}")
    allowed = {k for k in map(_key, returned) if k}
    eligible = [uid for uid, key in zip(audience.ids, audience.keys) if key in allowed]
    excluded = [uid for uid, key in zip(audience.ids, audience.keys) if key not in allowed]
    if excluded_count != len(excluded):
        warnings.append(
            f"cadence service reported excludedCount={excluded_count} but "
            f"{len(excluded)} of the {len(audience.ids)} ids sent were not returned as eligible"
        )
    return CadenceDecision(
        eligible=eligible,
        excluded={REMOTE_RULE: excluded},
        mode="remote",
        warnings=warnings,
        layer_id=layer_id,
        exclusions=[Exclusion(uid, REMOTE_RULE) for uid in excluded],
    )


def _service_down(settings: Settings, audience: Audience, layer_id: int, reason: str) -> CadenceDecision:
    where = mask_text(reason)
    if not settings.cadence_fail_open:
        raise DeliveryError(
            f"cadence service failed ({where}); failing closed: nobody will be sent this layer-{layer_id} push",
            hint="fix the service, or set cadence_fail_open: true (ENGINE_CADENCE_FAIL_OPEN=1) to send "
            "to everyone when it is down, as the original did",
        )
    message = (
        f"CADENCE SERVICE FAILED ({where}): FAILING OPEN, all {len(audience.ids)} valid users are "
        f"treated as eligible for this layer-{layer_id} push without any cadence check"
    )
    log.warning(message, extra={"cadence_failed_open": True, "layer_id": layer_id})
    return CadenceDecision(
        eligible=list(audience.ids),
        excluded={REMOTE_RULE: []},
        mode="remote",
        failed_open=True,
        warnings=[message],
        layer_id=layer_id,
    )


@dataclass(frozen=True)
class TrackReport:
    """How many sent pushes the service recorded; the user ids it could not record."""

    recorded: int
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def track_remote(settings: Settings, rows: Iterable[SentPush | Mapping[str, Any]]) -> TrackReport:
    """Record sent pushes in the remote service, one request per push (its only API).

    Not idempotent: the service has no dedup key and stamps ``sent_at`` with its own clock, so
    calling this twice for the same rows (e.g. on resume) records them twice, and a retry after
    an ambiguous failure (timeout, 5xx after its insert) may too. Duplicates only make cadence
    stricter. Failures are reported, not raised: the pushes are already out.
    """
    pushes = [as_sent_push(row) for row in rows]
    if not pushes:
        return TrackReport(0)

    def send(push: SentPush) -> str | None:
        payload = {
            "userId": push.user_id,
            "layerId": push.layer_id,
            "pushTitle": push.push_title,
            "pushBody": push.push_body,
            "audienceDescription": push.audience_description,
        }
        try:
            _post(client, TRACK_PATH, payload, retries=settings.cadence_retries)
        except _ServiceFailure as failure:
            return str(failure)
        return None

    with _client(settings) as client, ThreadPoolExecutor(min(_TRACK_CONCURRENCY, len(pushes))) as pool:
        outcomes = list(pool.map(send, pushes))
    failed = [push.user_id for push, error in zip(pushes, outcomes) if error]
    errors = sorted({error for error in outcomes if error})
    if failed:
        log.warning(
            "cadence tracking failed for %d of %d pushes (%s); those users may be pushed again "
            "before their cooldown ends",
            len(failed),
            len(pushes),
            mask_text("; ".join(errors)),
        )
    return TrackReport(len(pushes) - len(failed), failed, errors)
