"""The operator app on Starlette: the page, its status JSON, run files, health, metrics and the actions.

Read views need no login (bind to localhost, the default); every action is a POST that needs
``Authorization: Bearer <serve_token>`` (401 otherwise, logged). Handlers are plain functions, so
Starlette runs them in its thread pool: they read the state database with blocking psycopg.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, is_dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.config import Settings
from engine.db import connect
from engine.delivery.model import Outcome
from engine.errors import EngineError, ReportError
from engine.observe import metrics
from engine.report import build_report
from engine.report.render import REPORT_FILE, render_page
from engine.schedules.definition import CHANGED
from engine.web import controls, views
from engine.web.hosts import HostGuard

log = logging.getLogger("engine.web")

RunFiles = Callable[[str], tuple[Path, set[str]] | None]


@dataclass(frozen=True)
class AppConfig:
    settings: Settings
    allowed_hosts: frozenset[str]  # Host names answered (hosts.allowed_hosts)
    run_files: RunFiles  # a recorded run's folder and the files its manifest lists
    worker_alive: Callable[[], bool] | None = None  # the scheduler's worker; None: read-only serve


def build_app(config: AppConfig) -> Starlette:
    """The routes behind the Host guard; a state database that is down is a 503, not a traceback."""
    routes = _Routes(config)
    return Starlette(
        routes=[
            Route("/", routes.page),
            Route("/api/status", routes.status),
            Route("/healthz", routes.healthz),
            Route("/readyz", routes.readyz),
            Route("/metrics", routes.metrics),
            Route("/runs/{run_id}", routes.run_file),
            Route("/runs/{run_id}/{name}", routes.run_file),
            # /api/automations/<id>/<pause|resume|trigger-test>  or  /api/runs/<id>/cancel
            Route("/api/{collection}/{target}/{action}", routes.act, methods=["POST"]),
        ],
        middleware=[Middleware(NoStore), Middleware(HostGuard, allowed=config.allowed_hosts)],
        exception_handlers={psycopg.Error: _unavailable, EngineError: _unavailable},
    )


class NoStore:
    """ASGI middleware: no response is cached (the page and run files carry PII)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"cache-control", b"no-store")]
            await send(message)

        await self.app(scope, receive, send_no_store if scope["type"] == "http" else send)


def _text(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status)


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, default=str), status_code=status, headers=headers, media_type="application/json"
    )


def _unavailable(_: Request, err: Exception) -> Response:
    return _text(503, f"state database unavailable: {type(err).__name__}\n")


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


class _Routes:
    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.settings = config.settings

    def page(self, _: Request) -> Response:
        return HTMLResponse(
            render_page(
                "operator.html",
                view=views.operator_view(self.settings),
                outcomes=list(Outcome),
                changed_label=CHANGED,
            )
        )

    def status(self, _: Request) -> Response:
        return _json(200, _plain(views.operator_view(self.settings)))

    def healthz(self, _: Request) -> Response:
        return _text(200, "ok\n")

    def readyz(self, _: Request) -> Response:
        problems = []
        try:
            with connect(self.settings.require_state_dsn(), retries=0) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, EngineError) as err:
            problems.append(f"state database unreachable: {type(err).__name__}")
        if self.config.worker_alive is not None and not self.config.worker_alive():
            problems.append("scheduler worker is not running")
        return _text(503 if problems else 200, "\n".join(problems or ["ready"]) + "\n")

    def metrics(self, _: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    def run_file(self, request: Request) -> Response:
        """A run's report (built on first request) or one of the files its manifest lists, under the output root."""
        run_id, name = request.path_params["run_id"], request.path_params.get("name", REPORT_FILE)
        found = self.config.run_files(run_id)
        if found is None or (name != REPORT_FILE and name not in found[1]):
            return _text(404, "not found\n")
        run_dir = found[0]
        if not (run_dir / name).resolve().is_relative_to(self.settings.resolved_output_dir.resolve()):
            log.warning(
                "run file refused: outside the output root (ENGINE_OUTPUT_DIR)", extra={"run_id": run_id, "file": name}
            )
            return _text(404, "not found\n")
        try:
            if name == REPORT_FILE and not (run_dir / REPORT_FILE).is_file():
                build_report(self.settings, run_dir)
            body = (run_dir / name).read_bytes()
        except (OSError, ReportError) as err:  # a folder in the file's place, a full disk: say so, go on
            log.error("run file unavailable", extra={"run_id": run_id, "file": name, "error": str(err)})
            return _text(500, "unavailable: the file cannot be read or written (see the server log)\n")
        kind = "text/html; charset=utf-8" if name == REPORT_FILE else "text/csv; charset=utf-8"
        return Response(body, media_type=kind)

    def act(self, request: Request) -> Response:
        params = request.path_params
        action, target = controls.Action.at(params["collection"], params["action"]), params["target"]
        if action is None:
            return _json(404, {"ok": False, "message": "unknown action"})
        fields = {"action": action.value, "target": target, "client": _client(request)}
        if not controls.authorised(self.settings, request.headers.get("Authorization")):
            log.warning("action refused: missing or wrong bearer token", extra=fields)
            return _json(
                401,
                {"ok": False, "message": "a bearer token is required for actions"},
                headers={"WWW-Authenticate": 'Bearer realm="audience-engine"'},
            )
        outcome = controls.perform(self.settings, action, target)
        log.info("action %s %s: %s", action.value, target, outcome.status, extra=fields)
        return _json(
            outcome.status,
            {"ok": outcome.status == HTTPStatus.OK, "message": outcome.message, "result": _plain(outcome.result)},
        )
