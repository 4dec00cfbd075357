"""Structured logging: human lines on a terminal, JSON lines otherwise (or when asked)."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from engine.secrets import mask_text

_RESERVED = set(vars(logging.makeLogRecord({})))
CONTEXT_KEYS = ("run_id", "automation", "audience", "phase")
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "engine_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Every log line inside carries these fields (run id, automation, audience, phase), unless it sets its own."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
        }
        payload.update(
            {
                k: mask_text(v) if isinstance(v, str) else v
                for k, v in vars(record).items()
                if k not in _RESERVED and not k.startswith("_")
            }
        )
        return json.dumps(payload, default=str)


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={mask_text(str(v))}" for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")
        )
        line = f"{record.levelname.lower():7} {record.name}: {mask_text(record.getMessage())}"
        return f"{line} {extras}".rstrip()


# libraries whose log records (psycopg_pool's connection warnings, Python warnings, the page's uvicorn) share our stderr
_LIBRARY_LOGGERS = ("psycopg", "py.warnings", "uvicorn")
_json_mode = False


def setup_logging(fmt: str = "auto", *, verbose: bool = False) -> None:
    """Configure the ``engine`` logger (and the libraries' loggers) on stderr. ``fmt``: auto | json | plain.

    In JSON mode every stderr line is one JSON object: library warnings go through the same
    handler and CLI errors through ``stderr_line``.
    """
    global _json_mode
    _json_mode = fmt == "json"  # asked for: CLI errors become JSON lines too (auto keeps them readable)
    if fmt == "auto":
        fmt = "plain" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _PlainFormatter())
    handler.addFilter(_ContextFilter())
    logger = logging.getLogger("engine")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    logging.captureWarnings(True)
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers[:] = [handler]
        library.setLevel(logging.WARNING)  # their warnings, not their debug chatter
        library.propagate = False


def stderr_line(level: int, text: str, **fields: object) -> bool:
    """In JSON mode, log ``text`` as one JSON line on stderr and return True; else return False."""
    if not _json_mode:
        return False
    extra = {k: v for k, v in fields.items() if v is not None}
    logging.getLogger("engine.cli").log(level, mask_text(text), extra=extra)
    return True
