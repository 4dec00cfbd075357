"""Masking of secrets (DSN passwords, credential paths' contents) for logs and errors.

A DSN's password is masked wherever the DSN can show: its own text (URL or key=value form),
the server description built from it, and libpq's messages about it. An unencoded ``@``, ``/``
or space in a password makes libpq split the DSN elsewhere than its writer meant (the first
``@`` ends the password in a URL), so the password's tail becomes the host, port or database
name that libpq and the description report. Two rules cover that: a host, port, user or
database name never holds an ``@``, so whatever precedes its last ``@`` is masked; and given
the DSN, every reading of its password (libpq's, and up to the last ``@`` as its writer meant
it) is masked whole and piece by piece.
"""

from __future__ import annotations

import re

from psycopg.conninfo import conninfo_to_dict

# the password runs to the last '@' before the host: an unencoded '@' in it is masked whole
_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/\s'\"]*):(?P<pw>[^\s'\"]*)@"
    r"(?=[^@\s/]*(?:[/?\s'\"]|$))"
)
# an unquoted value runs to the next `key=` (libpq stops at a space, but the rest was meant as password too)
_KV_PASSWORD = re.compile(
    r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+(?:[ \t]+[^\s=]+)*?(?=[ \t]+\w+\s*=|[ \t]*$))",
    re.IGNORECASE | re.MULTILINE,
)
# a host (or port, user, database name) as libpq and psycopg quote it, holding an '@': a password's tail
_AT_IN_SERVER = re.compile(
    r"(?P<lead>\b(?:host|hostaddr|port|user|dbname)\s*=\s*'?|\b(?:host(?: name)?|server at|"
    r"value)\s+[\"'])(?P<userinfo>[^\s\"']*@)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
# an FCM registration token: an instance id, a colon, then a long base64url tail
_FCM_TOKEN = re.compile(r"\b([A-Za-z0-9_-]{8})[A-Za-z0-9_-]{0,40}:[A-Za-z0-9_-]{60,}")
# pieces of a password split where a parser may have cut it
_PIECES = re.compile(r"[\s@:/?#&,']+")
# shorter pieces are not masked as free text: they would hide ordinary letters of the message
_MIN_PIECE = 3
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this literal value in every later log line (the operator page's bearer token)."""
    if value:
        _registered.add(value)


def _params(dsn: str) -> dict[str, str] | None:
    """libpq's reading of ``dsn``; None when libpq cannot parse it."""
    try:
        return {k: v for k, v in conninfo_to_dict(dsn).items() if isinstance(v, str)}
    except Exception:
        return None


def _patterns(text: str) -> str:
    out = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    out = _KV_PASSWORD.sub(lambda m: f"{m.group(1)}***", out)
    return _AT_IN_SERVER.sub(lambda m: f"{m['lead']}***@", out)


def _fragments(dsn: str) -> dict[str, str]:
    """Text a DSN's password can show as, each with what to show instead."""
    params = _params(dsn) or {}
    out = {
        value: "***@" + value.rsplit("@", 1)[1] for key, value in params.items() if key != "password" and "@" in value
    }
    readings = [m["pw"] for m in _URL_PASSWORD.finditer(dsn)]
    readings += [m.group(2).strip("'").split("&", 1)[0] for m in _KV_PASSWORD.finditer(dsn)]
    readings.append(params.get("password", ""))
    for reading in readings:
        for piece in {reading, *_PIECES.split(reading)}:
            if len(piece) >= _MIN_PIECE:
                out[piece] = "***"
    return out


def _replace(text: str, fragments: dict[str, str]) -> str:
    for value in sorted(fragments, key=len, reverse=True):
        text = text.replace(value, fragments[value])
    return text


def mask_dsn(dsn: str | None) -> str:
    """Return ``dsn`` with any password replaced by ``***`` (URL or key=value form)."""
    if not dsn:
        return ""
    return _replace(_patterns(dsn), _fragments(dsn))


def mask_text(text: str, *secrets: str | None) -> str:
    """Mask DSN passwords in free text, plus any literal secret values given.

    A DSN given among ``secrets`` is masked as text and in every form libpq may have quoted it.
    """
    out = _FCM_TOKEN.sub(lambda m: f"{m.group(1)}…", _BEARER.sub(lambda m: f"{m.group(1)}***", _patterns(text)))
    for secret in (*secrets, *_registered):
        if secret:
            out = out.replace(secret, "***")
    for secret in secrets:
        if secret:
            out = _replace(out, _fragments(secret))
    return out


def describe_server(dsn: str) -> str:
    """Human description of the server a DSN points at, without credentials (nor any piece of them)."""
    params = _params(dsn)
    if params is None:  # an unparsable DSN is itself reported elsewhere
        return "<unparsable DSN>"
    host = params.get("host") or "local socket"
    port = params.get("port") or "5432"
    user = params.get("user") or "(default user)"
    dbname = params.get("dbname") or "(default database)"
    return mask_text(f"host={host} port={port} user={user} dbname={dbname}", dsn)
