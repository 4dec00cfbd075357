"""One error root for the engine; every error can carry the place it came from.

The CLI prints any ``EngineError`` the same way (``path:line:col: error: message``
plus a hint) and maps its ``exit_code`` to the process exit status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class SourceLocation:
    """Where in a project file a problem is (1-based line and column)."""

    file: str
    line: int | None = None
    col: int | None = None
    key_path: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.col is not None:
                parts.append(str(self.col))
        return ":".join(parts)


class EngineError(Exception):
    """Root of every error the engine raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, location: SourceLocation | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ConfigError(EngineError):
    """Settings are missing or invalid."""

    exit_code = 2


class SpecError(EngineError):
    """An audience YAML file is malformed or inconsistent."""


class RenderError(EngineError):
    """A Jinja SQL template failed to render."""


class QueryError(EngineError):
    """A source query failed on the database."""


class DatabaseUnavailable(EngineError):
    """The database server could not be reached (after retries)."""

    exit_code = 3


class StateError(EngineError):
    """The engine's own state database is inconsistent or unusable."""


class NotMigrated(StateError):
    """The state database lacks the engine's tables, or has an older version of them: run ``engine migrate``."""

    exit_code = 2
    HINT = "run `engine migrate` (it applies the engine's tables to ENGINE_STATE_DSN), then retry"

    def __init__(self, message: str, *, location: SourceLocation | None = None, hint: str | None = None) -> None:
        super().__init__(message, location=location, hint=hint or self.HINT)


class ReportError(EngineError):
    """A run report or history page cannot be written (its path is taken by a folder, the disk is full)."""


class SeedRefused(EngineError):
    """``engine seed`` will not touch a database that already holds app data."""


class DeliveryError(EngineError):
    """A push send failed in a way that stops the run."""


class SendBusy(DeliveryError):
    """Another process is sending this send (or this shard of it) right now: nothing was done."""


class ScheduleError(EngineError):
    """schedules.yaml is invalid."""


def first_of(problems: Sequence[EngineError]) -> EngineError:
    """The first of several problems, its hint counting the others (raised by loaders; validate lists all)."""
    first = problems[0]
    if len(problems) > 1:
        first.hint = (
            (first.hint + "; ") if first.hint else ""
        ) + f"{len(problems) - 1} more problem(s): run `engine validate`"
    return first
