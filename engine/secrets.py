"""Masking of secrets (DSN passwords, credential paths' contents) for logs and errors."""

from __future__ import annotations

import re

from psycopg.conninfo import conninfo_to_dict

# the password runs to the last '@' before the host: an unencoded '@' in it is masked whole
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^\s'\"]*)@(?=[^@\s/]*(?:[/?\s'\"]|$))")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
# an FCM registration token: an instance id, a colon, then a long base64url tail
_FCM_TOKEN = re.compile(r"\b([A-Za-z0-9_-]{8})[A-Za-z0-9_-]{0,40}:[A-Za-z0-9_-]{60,}")
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this literal value in every later log line (the operator page's bearer token)."""
    if value:
        _registered.add(value)


def short_token(token: str | None) -> str:
    """A push token as logs may show it: its first 8 characters."""
    return f"{token[:8]}…" if token else ""


def mask_dsn(dsn: str | None) -> str:
    """Return ``dsn`` with any password replaced by ``***`` (URL or key=value form)."""
    if not dsn:
        return ""
    masked = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", dsn)
    return _KV_PASSWORD.sub(lambda m: f"{m.group(1)}***", masked)


def mask_text(text: str, *secrets: str | None) -> str:
    """Mask DSN passwords in free text, plus any literal secret values given."""
    out = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}***", _URL_PASSWORD.sub(
        lambda m: f"{m['scheme']}{m['user']}:***@", text))
    out = _FCM_TOKEN.sub(lambda m: f"{m.group(1)}…", _BEARER.sub(lambda m: f"{m.group(1)}***", out))
    for secret in (*secrets, *_registered):
        if secret:
            out = out.replace(secret, "***")
    return out


def describe_server(dsn: str) -> str:
    """Human description of the server a DSN points at, without credentials."""
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # an unparsable DSN is itself reported elsewhere
        return "<unparsable DSN>"
    host = params.get("host") or "local socket"
    port = params.get("port") or "5432"
    user = params.get("user") or "(default user)"
    dbname = params.get("dbname") or "(default database)"
    return f"host={host} port={port} user={user} dbname={dbname}"
