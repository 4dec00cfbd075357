"""A local stand-in for the original push-cadence-service's two endpoints, for tests.

Real HTTP (stdlib http.server in a thread on 127.0.0.1, port 0). Filtering behaves like the
original's: layer 1 gets everyone; ids failing its strict UUID regex (versions 1-5 only) are
silently dropped; ``blocked`` ids are excluded. It can be told to answer slowly or with an
HTTP error, for the first ``fail_times`` requests or always.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ORIGINAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I)


@dataclass
class FakeCadenceService:
    blocked: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    fail_status: int | None = None
    fail_times: int | None = None  # None: fail every request (when fail_status is set)
    body_override: Any = None  # answer filter requests with this JSON instead
    requests: list[tuple[str, Any]] = field(default_factory=list)
    tracked: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakeCadenceService":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str, body: Any) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((path, body))
            failing = self.fail_status is not None and (
                self.fail_times is None or len(self.requests) <= self.fail_times
            )
        if self.delay_s:
            time.sleep(self.delay_s)
        if failing:
            return self.fail_status or 500, {"error": "Internal Server Error"}
        if path == "/api/filter-audience":
            if self.body_override is not None:
                return 200, self.body_override
            ids, layer = body["userIds"], body["layerId"]
            eligible = (
                ids if layer == 1 else [uid for uid in ids if _ORIGINAL_UUID.match(uid) and uid not in self.blocked]
            )
            return 200, {"eligibleUserIds": eligible, "excludedCount": len(ids) - len(eligible)}
        if path == "/api/track-notification":
            with self._lock:
                self.tracked.append(body)
            return 200, {"success": True}
        return 404, {"error": "not found"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                status, payload = service._answer(self.path, body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        return Handler
