"""The operator page answers only requests naming one of its own host names in ``Host`` (400 otherwise).

With DNS rebinding, a page on evil.example whose name then resolves to 127.0.0.1 would read run
CSVs (PII) through the visitor's browser, and that browser still sends ``Host: evil.example``.
Starlette's TrustedHostMiddleware is not used: it cannot let probes through on any Host, does not
log a refusal, and compares names without dropping a final dot or normalising an IPv6 address.
"""

from __future__ import annotations

import ipaddress
import logging
import re

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.config import Settings

log = logging.getLogger("engine.web")

# no run data: probes and scrapers address a replica by its IP, whatever the page's names
ANY_HOST_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_PORT = re.compile(r":\d{1,5}")


def host_name(value: str, *, entry: bool = False) -> str | None:
    """The name in a ``Host`` header (or a configured ``entry``): no port, brackets or final dot, lower case.

    None when it is not a host name at all. An entry may be a bare IPv6 address (``::1``);
    a header must bracket it (``[::1]:8765``).
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not _PORT.fullmatch(value[end + 1 :])):
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


class HostGuard:
    """ASGI middleware: a request whose one ``Host`` is not in ``allowed`` gets a short 400 and a logged warning.

    A GET (or HEAD) of /healthz, /readyz or /metrics answers any Host.
    """

    def __init__(self, app: ASGIApp, *, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._answers(scope):
            await self.app(scope, receive, send)
            return
        given = [value.decode("latin-1") for key, value in scope["headers"] if key == b"host"]
        client = scope.get("client")
        log.warning(
            "request refused: Host not allowed",
            extra={"host": "|".join(given)[:100], "client": client[0] if client else None},
        )
        refusal = PlainTextResponse(
            "Host not allowed: this page answers only its own host names (ENGINE_SERVE_ALLOWED_HOSTS)\n",
            status_code=400,
        )
        await refusal(scope, receive, send)

    def _answers(self, scope: Scope) -> bool:
        if scope["path"] in ANY_HOST_PATHS and scope["method"] in ("GET", "HEAD"):
            return True
        given = [value for key, value in scope["headers"] if key == b"host"]
        return len(given) == 1 and host_name(given[0].decode("latin-1")) in self.allowed
