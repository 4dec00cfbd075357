"""``engine serve`` / the scheduler's page: the standard library's threading HTTP server.

Read views need no login (bind to localhost, the default); every action is a POST that
needs ``Authorization: Bearer <serve_token>`` (401 otherwise, logged). ``start_in_thread``
is how the scheduler hosts the same app next to its worker.

Only requests naming one of the page's own host names in ``Host`` are answered (400 otherwise):
with DNS rebinding, a page on evil.example whose name then resolves to 127.0.0.1 would read run
CSVs (PII) through the visitor's browser, and that browser still sends ``Host: evil.example``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import threading
from dataclasses import asdict, dataclass, is_dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST

from engine.config import Settings
from engine.db import connect
from engine.errors import EngineError, ReportError
from engine.observe import metrics
from engine.report.render import REPORT_FILE, render_page
from engine.runs.model import Manifest, OutputStatus
from engine.secrets import register_secret
from engine.state.migrate import connect_state
from engine.web import controls, views

log = logging.getLogger("engine.web")

_ACTIONS = {"pause": ("automation", controls.Action.PAUSE), "resume": ("automation", controls.Action.RESUME),
            "trigger-test": ("automation", controls.Action.TRIGGER_TEST), "cancel": ("run", controls.Action.CANCEL)}


# no run data: probes and scrapers address a replica by its IP, whatever the page's names
_ANY_HOST_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_PORT = re.compile(r":\d{1,5}")


@dataclass(frozen=True)
class AppConfig:
    settings: Settings
    worker_alive: Callable[[], bool] | None = None     # the scheduler's worker; None: read-only serve
    allowed_hosts: frozenset[str] = frozenset()        # Host names answered (see allowed_hosts)


def host_name(value: str, *, entry: bool = False) -> str | None:
    """The name in a ``Host`` header (or a configured ``entry``): no port, brackets or final dot, lower case.

    None when it is not a host name at all. An entry may be a bare IPv6 address (``::1``);
    a header must bracket it (``[::1]:8765``).
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1:] and not _PORT.fullmatch(value[end + 1:])):
            return None
        name = value[1:end]
    elif entry and value.count(":") > 1:
        name = value
    else:
        name, colon, port = value.partition(":")
        if colon and not _PORT.fullmatch(colon + port):
            return None
    name = name.rstrip(".")
    if ":" in name:
        try:
            return str(ipaddress.IPv6Address(name))
        except ValueError:
            return None
    return name or None


def allowed_hosts(settings: Settings, bound: tuple[str, ...]) -> frozenset[str]:
    """Host names the page answers: ``serve_allowed_hosts``, else the bound address(es) and the loopback names."""
    entries = settings.serve_allowed_hosts or (*bound, "localhost", "127.0.0.1", "::1")
    return frozenset(name for name in (host_name(e, entry=True) for e in entries) if name)


def _state_last_success(settings: Settings) -> Callable[[], list[tuple[str, str, float]]]:
    def query() -> list[tuple[str, str, float]]:
        try:
            with connect(settings.require_state_dsn(), retries=0) as conn:
                rows = [("audience", a, float(t)) for a, t in conn.execute(
                    "SELECT audience, extract(epoch FROM max(finished_at)) FROM engine.runs "
                    "WHERE status IN ('succeeded', 'empty') GROUP BY audience").fetchall()]
                scheduler = conn.execute("SELECT to_regclass('engine.automation_runs') IS NOT NULL").fetchone()
                if scheduler and scheduler[0]:
                    rows += [("automation", a, float(t)) for a, t in conn.execute(
                        "SELECT automation_id, extract(epoch FROM max(updated_at)) FROM engine.automation_runs "
                        "WHERE status IN ('sent', 'cleaned') GROUP BY automation_id").fetchall()]
                return rows
        except (psycopg.Error, EngineError):
            return []
    return query


def worker_heartbeat(settings: Settings, *, within_s: float) -> Callable[[], bool]:
    """For the scheduler's /readyz: a procrastinate worker beat its heart within ``within_s`` seconds."""
    def alive() -> bool:
        try:
            with connect(settings.require_state_dsn(), retries=0) as conn:
                row = conn.execute("SELECT EXISTS (SELECT 1 FROM procrastinate_workers WHERE last_heartbeat > "
                                   "now() - make_interval(secs => %s))", (within_s,)).fetchone()
                return bool(row and row[0])
        except (psycopg.Error, EngineError):
            return False
    return alive


def _run_files(settings: Settings, run_id: str) -> tuple[Path, set[str]] | None:
    """A recorded run's folder and the files its manifest says it wrote."""
    with connect(settings.require_state_dsn(), retries=0) as conn:
        row = conn.execute("SELECT run_dir, manifest FROM engine.runs WHERE id::text = %s", (run_id,)).fetchone()
    if not row or not row[0]:
        return None
    manifest = Manifest.from_json(row[1]) if row[1] else None
    return Path(row[0]), {o.file for o in manifest.outputs if o.status == OutputStatus.WRITTEN} if manifest else set()


class Handler(BaseHTTPRequestHandler):
    server_version = "audience-engine"
    config: AppConfig           # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the stdlib's name)
        log.debug("http %s", format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, default=str).encode(), "application/json")

    def _text(self, status: int, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _host_refused(self, path: str) -> bool:
        """Answer 400 (and say so) unless ``Host`` names this page; health and metrics answer any Host."""
        if path in _ANY_HOST_PATHS and self.command == "GET":
            return False
        given = self.headers.get_all("Host") or []
        if len(given) == 1 and host_name(given[0]) in self.config.allowed_hosts:
            return False
        log.warning("request refused: Host not allowed", extra={"host": "|".join(given)[:100],
                                                                 "client": self.client_address[0]})
        self._text(400, "Host not allowed: this page answers only its own host names "
                        "(ENGINE_SERVE_ALLOWED_HOSTS)\n")
        return True

    def do_GET(self) -> None:  # noqa: N802  (the stdlib's name)
        path = self.path.split("?", 1)[0]
        settings = self.config.settings
        if self._host_refused(path):
            return
        try:
            if path == "/":
                page = render_page("operator.html", view=views.operator_view(settings))
                self._send(200, page.encode(), "text/html; charset=utf-8")
            elif path == "/healthz":
                self._text(200, "ok\n")
            elif path == "/readyz":
                self._ready()
            elif path == "/metrics":
                self._send(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif path == "/api/status":
                view = views.operator_view(settings)
                self._json(200, asdict(view) if is_dataclass(view) else view)
            elif path.startswith("/runs/"):
                self._run_file(*[unquote(p) for p in path.removeprefix("/runs/").split("/", 1)])
            else:
                self._text(404, "not found\n")
        except (psycopg.Error, EngineError) as err:
            self._text(503, f"state database unavailable: {type(err).__name__}\n")

    def _ready(self) -> None:
        problems = []
        try:
            with connect(self.config.settings.require_state_dsn(), retries=0) as conn:
                conn.execute("SELECT 1")
        except (psycopg.Error, EngineError) as err:
            problems.append(f"state database unreachable: {type(err).__name__}")
        if self.config.worker_alive is not None and not self.config.worker_alive():
            problems.append("scheduler worker is not running")
        self._text(503 if problems else 200, "\n".join(problems or ["ready"]) + "\n")

    def _run_file(self, run_id: str, name: str = REPORT_FILE) -> None:
        """A run's report (built on first request) or one of the files its manifest lists; nothing else."""
        found = _run_files(self.config.settings, run_id)
        if found is None or (name != REPORT_FILE and name not in found[1]):
            self._text(404, "not found\n")
            return
        run_dir = found[0]
        try:
            if name == REPORT_FILE and not (run_dir / REPORT_FILE).is_file():
                from engine.report import build_report  # noqa: PLC0415

                build_report(self.config.settings, run_dir)
            body = (run_dir / name).read_bytes()
        except (OSError, ReportError) as err:   # a folder in the file's place, a full disk: say so, go on
            log.error("run file unavailable", extra={"run_id": run_id, "file": name, "error": str(err)})
            self._text(500, "unavailable: the file cannot be read or written (see the server log)\n")
            return
        kind = "text/html; charset=utf-8" if name == REPORT_FILE else "text/csv; charset=utf-8"
        self._send(200, body, kind)

    def do_POST(self) -> None:  # noqa: N802
        if self._host_refused(self.path.split("?", 1)[0]):
            return
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        # /api/automations/<id>/<pause|resume|trigger-test>  or  /api/runs/<id>/cancel
        if len(parts) != 4 or parts[0] != "api" or parts[3] not in _ACTIONS \
                or parts[1] != _ACTIONS[parts[3]][0] + "s":
            self._json(404, {"ok": False, "message": "unknown action"})
            return
        action, target = _ACTIONS[parts[3]][1], unquote(parts[2])
        if not controls.authorised(self.config.settings, self.headers.get("Authorization")):
            log.warning("action refused: missing or wrong bearer token",
                        extra={"action": action.value, "target": target, "client": self.client_address[0]})
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="audience-engine"')
            body = json.dumps({"ok": False, "message": "a bearer token is required for actions"}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        outcome = controls.perform(self.config.settings, action, target)
        log.info("action %s %s: %s", action.value, target, outcome.status,
                 extra={"action": action.value, "target": target, "client": self.client_address[0]})
        result = outcome.result
        if is_dataclass(result) and not isinstance(result, type):
            result = asdict(result)
        self._json(outcome.status, {"ok": outcome.status == HTTPStatus.OK, "message": outcome.message,
                                    "result": result})


@dataclass
class RunningServer:
    server: ThreadingHTTPServer
    thread: threading.Thread
    collector: metrics.StateCollector

    @property
    def url(self) -> str:
        return url_of(self.server)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        metrics.REGISTRY.unregister(self.collector)


def require_state(settings: Settings) -> None:
    """``engine serve`` shows the state database: it must be reachable and migrated (NotMigrated otherwise).

    Once serving, a state database that goes away is a 503 per request, not an exit.
    """
    connect_state(settings, autocommit=True).close()


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}/"


def make_server(settings: Settings, *, host: str | None = None, port: int | None = None,
                worker_alive: Callable[[], bool] | None = None) -> tuple[ThreadingHTTPServer, metrics.StateCollector]:
    """Bind the app (port 0 picks a free one); the state collector joins the metrics registry."""
    register_secret(settings.serve_token)
    bind = host or settings.serve_host
    handler: type[Handler] = type("BoundHandler", (Handler,), {})
    server = ThreadingHTTPServer((bind, settings.serve_port if port is None else port), handler)
    actual = server.server_address[0]   # the bound address, as the socket reports it
    handler.config = AppConfig(settings, worker_alive, allowed_hosts(
        settings, (bind, actual.decode() if isinstance(actual, bytes) else str(actual))))
    server.daemon_threads = True
    collector = metrics.StateCollector(_state_last_success(settings))
    metrics.REGISTRY.register(collector)
    return server, collector


def start_in_thread(settings: Settings, *, host: str | None = None, port: int | None = None,
                    worker_alive: Callable[[], bool] | None = None) -> RunningServer:
    """Serve in a daemon thread (the scheduler's way); ``stop()`` shuts it down."""
    server, collector = make_server(settings, host=host, port=port, worker_alive=worker_alive)
    thread = threading.Thread(target=server.serve_forever, name="engine-web", daemon=True)
    thread.start()
    log.info("operator page at %s", url_of(server))
    return RunningServer(server, thread, collector)
