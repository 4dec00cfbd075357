"""``engine serve`` / the scheduler's page: the operator app (``app.py``) served by uvicorn.

The socket is bound before uvicorn starts, so a taken port is an OSError at once (the CLI makes it
exit 2) and port 0's pick is known for the URL. ``start_in_thread`` is how the scheduler and the
demo host the page next to their own work; ``run`` serves in the calling thread (``engine serve``).
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psycopg
import uvicorn
from starlette.applications import Starlette

from engine.config import Settings
from engine.errors import EngineError
from engine.observe import metrics
from engine.runs.model import OutputStatus
from engine.secrets import register_secret
from engine.state import automation_runs, impact, queued_jobs, runs
from engine.state.connection import state_connection
from engine.state.migrate import connect_state
from engine.web.app import AppConfig, build_app
from engine.web.hosts import allowed_hosts

log = logging.getLogger("engine.web")


def _state_last_success(settings: Settings) -> Callable[[], list[tuple[str, str, float]]]:
    def query() -> list[tuple[str, str, float]]:
        try:
            with state_connection(settings, retries=0) as conn:
                found = [*runs.last_successes(conn), *automation_runs.last_successes(conn)]
        except (psycopg.Error, EngineError):
            return []
        return [(success.kind, success.name, success.at.timestamp()) for success in found]

    return query


def _state_handed_back(settings: Settings) -> Callable[[], int | None]:
    def query() -> int | None:
        try:
            with state_connection(settings, retries=0) as conn:
                return queued_jobs.handed_back(conn)
        except (psycopg.Error, EngineError):
            return None

    return query


def _state_conversions(settings: Settings) -> Callable[[], list[metrics.ConversionTotals]]:
    def query() -> list[metrics.ConversionTotals]:
        try:
            with state_connection(settings, retries=0) as conn:
                return impact.totals(conn)
        except (psycopg.Error, EngineError):
            return []

    return query


def _run_files(settings: Settings, run_id: str) -> tuple[Path, set[str]] | None:
    """A recorded run's folder and the files its manifest says it wrote."""
    with state_connection(settings, retries=0) as conn:
        run = runs.get_run(conn, run_id)
    if not run or not run.run_dir:
        return None
    return Path(run.run_dir), {
        o.file for o in run.manifest.outputs if o.status == OutputStatus.WRITTEN
    } if run.manifest else set()


@dataclass
class RunningServer:
    """The operator app on its listening socket; its state collector is in the metrics registry until it stops."""

    server: uvicorn.Server
    socket: socket.socket
    collector: metrics.StateCollector
    host: str  # the bound address and port, as the socket reports them (port 0 picked one)
    port: int
    thread: threading.Thread | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def run(self) -> None:
        """Serve in this thread until stop(), or SIGINT / SIGTERM when this is the main thread (uvicorn's)."""
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self.socket.close()
            metrics.REGISTRY.unregister(self.collector)

    def stop(self) -> None:
        """Stop serving (open requests get a few seconds to finish) and wait for the serving thread."""
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=10)


def require_state(settings: Settings) -> None:
    """``engine serve`` shows the state database: it must be reachable and migrated (NotMigrated otherwise).

    Once serving, a state database that goes away is a 503 per request, not an exit.
    """
    connect_state(settings, autocommit=True).close()


def operator_app(
    settings: Settings, *, bound: tuple[str, ...], worker_alive: Callable[[], bool] | None = None
) -> Starlette:
    """The app over ``settings``' state database, answering the Host names of its ``bound`` addresses by default."""
    return build_app(
        AppConfig(settings, allowed_hosts(settings, bound), functools.partial(_run_files, settings), worker_alive)
    )


def make_server(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    worker_alive: Callable[[], bool] | None = None,
) -> RunningServer:
    """Bind the app (port 0 picks a free one; a taken port raises OSError); the state collector joins the registry."""
    register_secret(settings.serve_token)
    bind = host or settings.serve_host
    sock = socket.create_server((bind, settings.serve_port if port is None else port))
    bound, bound_port = sock.getsockname()[:2]
    app = operator_app(settings, bound=(bind, bound), worker_alive=worker_alive)
    # uvicorn leaves logging alone (engine.logs routes its warnings through our handler) and adds no headers
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    collector = metrics.StateCollector(
        _state_last_success(settings), _state_handed_back(settings), _state_conversions(settings)
    )
    metrics.REGISTRY.register(collector)
    return RunningServer(uvicorn.Server(config), sock, collector, bound, bound_port)


def start_in_thread(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    worker_alive: Callable[[], bool] | None = None,
) -> RunningServer:
    """Serve in a daemon thread (the scheduler's and the demo's way); ``stop()`` shuts it down."""
    server = make_server(settings, host=host, port=port, worker_alive=worker_alive)
    server.thread = threading.Thread(target=server.run, name="engine-web", daemon=True)
    server.thread.start()
    log.info("operator page at %s", server.url)
    return server
