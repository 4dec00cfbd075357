"""``engine scheduler``: the long-lived worker. Several replicas may share one state database.

On boot it plans due runs at once (never "0 jobs scheduled" after a deploy, reference
section 6 item 10), then runs a procrastinate worker on the scheduler queue. SIGTERM or
Ctrl-C: procrastinate stops taking jobs and waits for the phase in progress (or, with a
graceful timeout, hands it back: it is retried from its persisted status).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass

import procrastinate
from procrastinate.app import WorkerOptions as ProcrastinateWorkerOptions

from engine.config import Settings
from engine.db import probe_source, role_check
from engine.errors import StateError
from engine.scheduler.definition import LastGood
from engine.scheduler.jobs import NAMESPACE, QUEUE, WorkerContext, blueprint, tick_once
from engine.scheduler.phases import PhaseContext
from engine.timeutil import utcnow

log = logging.getLogger("engine.scheduler")


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 2
    heartbeat_s: float = 10.0
    stalled_after_s: float = 30.0
    shutdown_timeout_s: float | None = None  # None: finish the phase in progress
    name: str | None = None


class Liveness:
    """This replica's worker, for /readyz: alive while its event loop beats within ``within_s``
    (a stopped worker or a hung loop reads as not alive)."""

    def __init__(self, within_s: float) -> None:
        self.within_s = within_s
        self._last_beat: float | None = None

    def __call__(self) -> bool:
        beat = self._last_beat
        return beat is not None and time.monotonic() - beat < self.within_s

    async def beat(self, every_s: float) -> None:
        try:
            while True:
                self._last_beat = time.monotonic()
                await asyncio.sleep(every_s)
        finally:
            self._last_beat = None


def make_app(settings: Settings) -> procrastinate.App:
    """A procrastinate App on the state database with the scheduler's tasks (nothing opened yet)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=settings.require_state_dsn()))
    app.add_tasks_from(blueprint, namespace=NAMESPACE)
    return app


async def _serve(settings: Settings, options: WorkerOptions, liveness: Liveness | None) -> None:
    worker = options.name or f"{socket.gethostname()}-{os.getpid()}"
    phase = PhaseContext(settings=settings, worker=worker, clock=utcnow, last_good=LastGood(settings, worker))
    ctx = WorkerContext(phase, options.stalled_after_s)
    app = make_app(settings)
    async with app.open_async():
        try:
            await tick_once(app, ctx)
        except Exception as err:
            if "procrastinate_" in str(err):
                raise StateError("the job queue tables are missing", hint="run `engine migrate` first") from err
            raise
        log.info("scheduler started", extra={"worker": worker, "concurrency": options.concurrency})
        worker_options: ProcrastinateWorkerOptions = {
            "queues": [QUEUE],
            "name": worker,
            "concurrency": options.concurrency,
            "update_heartbeat_interval": options.heartbeat_s,
            "stalled_worker_timeout": options.stalled_after_s,
            "additional_context": {"engine": ctx},
            "fetch_job_polling_interval": 1.0,
            "delete_jobs": "successful",
        }
        if options.shutdown_timeout_s is not None:  # unset: wait for the phase in progress
            worker_options["shutdown_graceful_timeout"] = options.shutdown_timeout_s
        beating = asyncio.create_task(liveness.beat(options.heartbeat_s)) if liveness else None
        try:
            await app.run_worker_async(**worker_options)
        finally:
            if beating:
                beating.cancel()
    log.info("scheduler stopped", extra={"worker": worker})


def serve(settings: Settings, options: WorkerOptions, liveness: Liveness | None = None) -> None:
    """Run until SIGTERM/SIGINT; ``liveness`` (for /readyz) beats while the worker runs.

    First the source role is checked: a role that can write or reach server files is refused (ConfigError)
    unless ENGINE_ALLOW_PRIVILEGED_SOURCE=1, before any job runs. Without a source DSN there is nothing to check
    (every generate phase then fails, saying how to set one).
    """
    if settings.source_dsn:
        probe_source(settings.source_dsn, retries=settings.connect_retries, check=role_check(settings, live=True))
    asyncio.run(_serve(settings, options, liveness))
