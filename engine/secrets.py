"""Masking of secrets (DSN passwords, credential paths' contents) for logs and errors."""

from __future__ import annotations

import re

from psycopg.conninfo import conninfo_to_dict

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


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
    for secret in secrets:
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
