"""A send session: the source pool, FCM client and event loop that one automation run's sends share.

Opening them is most of what a small send costs (the source role's check, the OAuth token,
TLS contexts): paid by every send, an automation's later pushes left one setup after another,
seconds after T on a loaded machine (issue 24). The scheduler opens one session for a run's
sends and passes it to each; a send called alone (``engine send``) opens what it needs itself.
Only the setup is shared: each send keeps its own ledger connection, locks and send id.

The FCM client's connections belong to the event loop that first used them, so the session
keeps one loop (``asyncio.Runner``) for every send it carries, and closes them in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from engine.config import Settings
from engine.db import SourcePool, role_check
from engine.delivery.fcm import FcmClient

R = TypeVar("R")


@dataclass(frozen=True)
class SendSession:
    """What the sends of one run share; open it with ``open_session``."""

    pool: SourcePool
    fcm: FcmClient
    loop: asyncio.Runner

    def run(self, work: Coroutine[Any, Any, R]) -> R:
        """Run ``work`` on the session's event loop (the one the FCM client's connections live in)."""
        return self.loop.run(work)


def open_fcm(settings: Settings) -> FcmClient:
    """An FCM client with a fresh OAuth token (bad credentials fail here, before any ledger moves)."""
    return FcmClient.open(settings.fcm_credentials, settings.fcm_endpoint, connections=settings.fcm_concurrency)


@contextmanager
def fcm_loop(client: FcmClient) -> Iterator[asyncio.Runner]:
    """An event loop for ``client``; its connections are closed in that loop when the block ends."""
    with asyncio.Runner() as loop:
        try:
            yield loop
        finally:
            close_fcm(client, loop)


def close_fcm(client: FcmClient, loop: asyncio.Runner | None = None) -> None:
    """Close the client's connections in the loop that used them (any loop when none did), then its OAuth session."""
    try:
        if loop is None:
            asyncio.run(client.aclose())
        else:
            loop.run(client.aclose())
    finally:
        client.close()


def source_pool(settings: Settings, *, live: bool) -> SourcePool:
    """The source pool a send looks device tokens up through; a ``live`` send refuses a role that can write."""
    return SourcePool(
        settings.require_source_dsn(),
        size=1,
        retries=settings.connect_retries,
        statement_timeout_s=settings.statement_timeout_s,
        check=role_check(settings, live=live),
    )


@contextmanager
def open_session(settings: Settings, *, live: bool) -> Iterator[SendSession]:
    """Open the pool (checking the source role) and the FCM client (proving the credentials) now, once."""
    with source_pool(settings, live=live) as pool:
        client = open_fcm(settings)
        with fcm_loop(client) as loop:
            yield SendSession(pool, client, loop)
